/**
 * The notification benchmark's baseline, in its own process like the real server: a bare Node HTTPS
 * server that holds every `GET /events` response open and, on `POST /trigger?seq=N`, writes one
 * frame of the real server's shape to all of them, then answers 201. Its key and certificate come from
 * the files named by BARE_KEY and BARE_CERT; it prints `{"url": …}` once it listens. Plain JavaScript,
 * so it runs on bare `node` (no TypeScript loader in its memory).
 */
import fs from 'node:fs';
import https from 'node:https';

const open = new Set();
const server = https.createServer({ key: fs.readFileSync(process.env['BARE_KEY']), cert: fs.readFileSync(process.env['BARE_CERT']), keepAlive: true }, (req, res) => {
  if (req.url?.startsWith('/trigger')) {
    const seq = Number(new URL(req.url, 'https://x').searchParams.get('seq'));
    const frame = Buffer.from(`id: ${seq}\nevent: packet\ndata: ${JSON.stringify({ model_id: 'm_000000000000000000000000', seq, author: 'p_000000000000000000000000' })}\n\n`);
    for (const r of open) r.write(frame);
    req.resume();
    res.writeHead(201, { 'content-type': 'application/json' }).end('{}');
    return;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store' });
  res.write(': connected\n\n');
  open.add(res);
  res.on('close', () => open.delete(res));
});
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ url: `https://127.0.0.1:${server.address().port}` })));
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
