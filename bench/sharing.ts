/**
 * Sharing benchmarks, each against a baseline measured in the same run on the same machine:
 * - write-out: 64 KiB packets from 32 concurrent writers over HTTPS (throughput, p50/p99 latency)
 *   against a bare Koa HTTPS endpoint that reads and discards the same bodies;
 * - notification delay from a write-out's 201 to SSE delivery at 200 subscribers, against a bare
 *   HTTPS server writing the same frame to 200 open responses;
 * - a large baseline upload and download (BENCH_BASELINE_MIB, default 1024) and peak RSS, against a
 *   bare Node HTTPS server streaming the same bytes to a file (with fsync) and back.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import Koa from 'koa';
import { request, type Agent } from 'undici';
import { bareServer, benchServer, percentile } from './harness.ts';
import { measure, mib, row, source } from './measure.ts';

const digestOf = (b: Buffer) => `sha-256=:${crypto.createHash('sha256').update(b).digest('base64')}:`;

async function post(agent: Agent, url: string, token: string, body: Buffer, digest: string) {
  const started = process.hrtime.bigint();
  const res = await request(url, { method: 'POST', dispatcher: agent, body, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream', 'content-digest': digest } });
  await res.body.dump();
  return { status: res.statusCode, ms: Number(process.hrtime.bigint() - started) / 1e6 };
}

async function writeOutBench(server: Awaited<ReturnType<typeof benchServer>>) {
  const writers = 32;
  const perWriter = Number(process.env['BENCH_PACKETS_PER_WRITER'] ?? 40);
  const packet = crypto.randomBytes(64 * 1024);
  const digest = digestOf(packet);
  const people = Array.from({ length: writers }, (_, i) => server.person(`writer${i}`));
  const models: string[] = [];
  for (const p of people) {
    const res = await request(`${server.url}/api/v1/models`, { method: 'POST', dispatcher: server.agent(1), body: JSON.stringify({ name: 'bench' }), headers: { authorization: `Bearer ${p.token}`, 'content-type': 'application/json' } });
    models.push(((await res.body.json()) as { id: string }).id);
  }
  const run = async (urlFor: (i: number, seq: number) => string, token: (i: number) => string) => {
    const agent = server.agent(writers);
    const latencies: number[] = [];
    const m = await measure(writers * perWriter * packet.length, async () => {
      await Promise.all(Array.from({ length: writers }, async (_, i) => {
        for (let seq = 0; seq < perWriter; seq++) {
          const r = await post(agent, urlFor(i, seq), token(i), packet, digest);
          if (r.status !== 201 && r.status !== 200) throw new Error(`write-out answered ${r.status}`);
          latencies.push(r.ms);
        }
      }));
    });
    await agent.close();
    latencies.sort((a, b) => a - b);
    return { m, p50: percentile(latencies, 50), p99: percentile(latencies, 99), count: latencies.length };
  };
  const koa = new Koa();
  koa.use(async (ctx) => {
    for await (const chunk of ctx.req) void chunk;
    ctx.status = 201;
    ctx.body = { ok: true };
  });
  const bare = await bareServer(server.httpsOptions(), koa.callback());
  const base = await run(() => `${bare.url}/discard`, () => 'x');
  await bare.close();
  const ours = await run((i, seq) => `${server.url}/api/v1/models/${models[i]}/packets?base=${seq}`, (i) => people[i]!.token);
  console.log(`\nwrite-out: 64 KiB packets, ${writers} concurrent writers over HTTPS, ${ours.count} packets`);
  const line = (name: string, r: typeof ours) => `${row(name, r.m)}  ${(r.count / r.m.seconds).toFixed(0)} req/s  p50 ${r.p50.toFixed(1)} ms  p99 ${r.p99.toFixed(1)} ms`;
  console.log(line('baseline: bare Koa HTTPS, read and discard', base));
  console.log(`${line('write-out (digest, seal, fsync, commit)', ours)}  ${(ours.count / ours.m.seconds / (base.count / base.m.seconds)).toFixed(2)}× baseline req/s`);
}

async function openStream(url: string, token: string, ca: string, onFrame: (at: bigint) => void): Promise<() => void> {
  const https = await import('node:https');
  return new Promise((resolve) => {
    const req = https.get(url, { ca, headers: { authorization: `Bearer ${token}` }, agent: false }, (res) => {
      res.on('data', (chunk: Buffer) => {
        if (chunk.includes('event: ')) onFrame(process.hrtime.bigint());
      });
      resolve(() => req.destroy());
    });
  });
}

async function notificationBench(server: Awaited<ReturnType<typeof benchServer>>) {
  const subscribers = 200;
  const rounds = Number(process.env['BENCH_NOTIFY_ROUNDS'] ?? 20);
  const owner = server.person('notify-owner');
  const agent = server.agent(1);
  const created = await request(`${server.url}/api/v1/models`, { method: 'POST', dispatcher: agent, body: JSON.stringify({ name: 'notify' }), headers: { authorization: `Bearer ${owner.token}`, 'content-type': 'application/json' } });
  const modelId = ((await created.body.json()) as { id: string }).id;
  const measureRounds = async (subscribe: (onFrame: (at: bigint) => void) => Promise<() => void>, trigger: (round: number) => Promise<bigint>) => {
    let received: bigint[] = [];
    const closers = await Promise.all(Array.from({ length: subscribers }, () => subscribe((at) => received.push(at))));
    const delays: number[] = [];
    for (let round = 0; round < rounds; round++) {
      received = [];
      const acknowledged = await trigger(round);
      while (received.length < subscribers) await new Promise((r) => setImmediate(r));
      for (const at of received) delays.push(Number(at - acknowledged) / 1e6);
    }
    closers.forEach((c) => c());
    delays.sort((a, b) => a - b);
    return { p50: percentile(delays, 50), p99: percentile(delays, 99), max: delays.at(-1)! };
  };
  // Baseline: a bare HTTPS server that writes one frame to every open response when asked.
  const open = new Set<import('node:http').ServerResponse>();
  const bare = await bareServer(server.httpsOptions(), (req, res) => {
    if (req.url === '/trigger') {
      for (const r of open) r.write('id: 1\nevent: packet\ndata: {}\n\n');
      res.end('ok');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(': connected\n\n');
    open.add(res);
    req.on('close', () => open.delete(res));
  });
  const base = await measureRounds(
    (onFrame) => openStream(`${bare.url}/events`, 'x', server.ca, onFrame),
    async () => {
      const res = await request(`${bare.url}/trigger`, { dispatcher: agent });
      await res.body.dump();
      return process.hrtime.bigint();
    },
  );
  await bare.close();
  const packet = Buffer.from('notify');
  const ours = await measureRounds(
    (onFrame) => openStream(`${server.url}/api/v1/models/${modelId}/events`, owner.token, server.ca, onFrame),
    async (round) => {
      const r = await post(agent, `${server.url}/api/v1/models/${modelId}/packets?base=${round}`, owner.token, packet, digestOf(packet));
      if (r.status !== 201) throw new Error(`write-out answered ${r.status}`);
      return process.hrtime.bigint();
    },
  );
  await agent.close();
  console.log(`\nnotification delay: ${subscribers} SSE subscribers, ${rounds} rounds, from the 201 (or trigger) to delivery`);
  console.log(`baseline: bare HTTPS broadcast               p50 ${base.p50.toFixed(2)} ms  p99 ${base.p99.toFixed(2)} ms  max ${base.max.toFixed(2)} ms`);
  console.log(`modelshare events                            p50 ${ours.p50.toFixed(2)} ms  p99 ${ours.p99.toFixed(2)} ms  max ${ours.max.toFixed(2)} ms  p99 ${(ours.p99 / base.p99).toFixed(2)}× baseline`);
}

async function baselineBench(server: Awaited<ReturnType<typeof benchServer>>) {
  const total = Number(process.env['BENCH_BASELINE_MIB'] ?? 1024) * 1024 * 1024;
  const pattern = crypto.randomBytes(32 * 1024 * 1024);
  const hash = crypto.createHash('sha256');
  const chunk = 1024 * 1024;
  for await (const part of source(total, pattern, chunk)) hash.update(part);
  const digest = `sha-256=:${hash.digest('base64')}:`;
  const owner = server.person('baseline-owner');
  const agent = server.agent(1);
  const created = await request(`${server.url}/api/v1/models`, { method: 'POST', dispatcher: agent, body: JSON.stringify({ name: 'big' }), headers: { authorization: `Bearer ${owner.token}`, 'content-type': 'application/json' } });
  const modelId = ((await created.body.json()) as { id: string }).id;
  const file = path.join(server.dir, 'bare.bin');
  const bare = await bareServer(server.httpsOptions(), (req, res) => {
    if (req.method === 'PUT') {
      const out = fs.createWriteStream(file, { highWaterMark: 1024 * 1024 });
      void pipeline(req, out).then(() => {
        const fd = fs.openSync(file, 'r+');
        fs.fsyncSync(fd);
        fs.closeSync(fd);
        res.writeHead(201).end();
      });
    } else {
      res.writeHead(200, { 'content-length': String(fs.statSync(file).size) });
      pipeline(fs.createReadStream(file, { highWaterMark: 1024 * 1024 }), res).catch(() => undefined);
    }
  });
  const upload = async (url: string, headers: Record<string, string>) =>
    measure(total, async () => {
      const res = await request(url, { method: url.includes('/api/') ? 'POST' : 'PUT', dispatcher: agent, body: Readable.from(source(total, pattern, chunk)), headers: { 'content-type': 'application/octet-stream', 'content-length': String(total), ...headers } });
      await res.body.dump();
      if (res.statusCode !== 201) throw new Error(`upload answered ${res.statusCode}`);
    });
  const download = async (url: string, headers: Record<string, string>) =>
    measure(total, async () => {
      const res = await request(url, { dispatcher: agent, headers });
      await pipeline(res.body, new Writable({ write: (_c, _e, cb) => cb() }));
    });
  const bareUp = await upload(`${bare.url}/file`, {});
  const bareDown = await download(`${bare.url}/file`, {});
  await bare.close();
  fs.rmSync(file);
  const auth = { authorization: `Bearer ${owner.token}` };
  const up = await upload(`${server.url}/api/v1/models/${modelId}/baselines?seq=0`, { ...auth, 'content-digest': digest });
  const down = await download(`${server.url}/api/v1/models/${modelId}/baselines/latest`, auth);
  await agent.close();
  console.log(`\nbaseline transfer: ${mib(total)} over HTTPS (client and server in one process)`);
  console.log(row('baseline: bare HTTPS upload to file + fsync', bareUp));
  console.log(row('baseline: bare HTTPS download from file', bareDown));
  console.log(row('baseline upload (digest, seal, fsync, commit)', up, bareUp));
  console.log(row('baseline download (open segments)', down, bareDown));
}

export async function sharingBench(): Promise<void> {
  const server = await benchServer({ MODELSHARE_LIMITS_BASELINE: '20GiB' });
  try {
    await writeOutBench(server);
    await notificationBench(server);
    await baselineBench(server);
  } finally {
    await server.close();
  }
}
