/**
 * The bare baselines of the transfer and write-out benchmarks, in a process of their own like the
 * real server (bench/child-server.ts), on the same certificate:
 *   file: PUT streams the body to a file and fsyncs it (201); GET streams the file back;
 *   koa:  a bare Koa app that reads every body and discards it (201).
 * Prints `listening <port>` when ready. Certificate and key come in BARE_CERT / BARE_KEY.
 */
import fs from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';
import Koa from 'koa';

const [mode, file] = process.argv.slice(2);
const options = { cert: process.env['BARE_CERT']!, key: process.env['BARE_KEY']!, keepAlive: true };

function fileHandler(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) {
  if (req.method === 'PUT') {
    const out = fs.createWriteStream(file!, { highWaterMark: 1024 * 1024 });
    pipeline(req, out).then(() => {
      const fd = fs.openSync(file!, 'r+');
      fs.fsyncSync(fd);
      fs.closeSync(fd);
      res.writeHead(201).end();
    }, () => res.writeHead(500).end());
  } else {
    res.writeHead(200, { 'content-length': String(fs.statSync(file!).size) });
    pipeline(fs.createReadStream(file!, { highWaterMark: 1024 * 1024 }), res).catch(() => undefined);
  }
}

function koaHandler() {
  const koa = new Koa();
  koa.use(async (ctx) => {
    for await (const chunk of ctx.req) void chunk;
    ctx.status = 201;
    ctx.body = { ok: true };
  });
  return koa.callback();
}

const server = https.createServer(options, mode === 'koa' ? koaHandler() : fileHandler);
server.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`));
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
