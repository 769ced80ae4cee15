/**
 * One client process of the notification benchmark: it opens many TLS event streams to a server (the
 * real one or the bare baseline) and notes, for every `packet` event, when it arrived, in the wall
 * clock with microseconds (`performance.timeOrigin + performance.now()`), which every process of the
 * machine shares. It runs apart from the server so that the server's memory and CPU are its own.
 *
 * Messages from the parent: `{open: {url, ca, tokens, concurrency}}` opens one stream per token and
 * answers `{opened, failed}`; `{report: true}` answers `{arrivals: {[seq]: number[]}}` and forgets
 * them; `{close: true}` ends every stream and the process.
 */
import https from 'node:https';

interface OpenRequest {
  url: string;
  ca: string;
  tokens: string[];
  concurrency: number;
}

const requests: ReturnType<typeof https.get>[] = [];
let arrivals: Record<number, number[]> = {};
const now = () => performance.timeOrigin + performance.now();

function openOne(url: string, ca: string, token: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = https.get(url, { ca, headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' }, agent: false }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        return resolve(false);
      }
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        const at = now();
        buffer += chunk;
        const end = buffer.lastIndexOf('\n\n');
        if (end < 0) return;
        const complete = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        for (const match of complete.matchAll(/event: packet\ndata: \{[^\n]*"seq":(\d+)/g)) (arrivals[Number(match[1])] ??= []).push(at);
      });
      res.on('error', () => undefined);
      resolve(true);
    });
    req.on('error', () => resolve(false));
    requests.push(req);
  });
}

async function openAll(o: OpenRequest): Promise<{ opened: number; failed: number }> {
  let next = 0;
  let opened = 0;
  let failed = 0;
  await Promise.all(Array.from({ length: o.concurrency }, async () => {
    while (next < o.tokens.length) {
      const token = o.tokens[next++]!;
      if (await openOne(o.url, o.ca, token)) opened++;
      else failed++;
    }
  }));
  return { opened, failed };
}

process.on('message', (message: { open?: OpenRequest; report?: true; close?: true }) => {
  if (message.open) void openAll(message.open).then((r) => process.send!(r));
  if (message.report) {
    process.send!({ arrivals });
    arrivals = {};
  }
  if (message.close) {
    for (const req of requests) req.destroy();
    process.disconnect();
    setTimeout(() => process.exit(0), 100).unref();
  }
});
process.send!({ ready: true });
