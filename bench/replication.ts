/**
 * Replication lag under load: 32 concurrent writers write out 64 KiB packets over HTTPS to a server
 * that replicates its database with Litestream to a path (a second disk stands in for the second
 * site), while the lag the server measures is sampled every 100 ms. The baseline is the same
 * write-out load on a server without replication, measured in the same run, so the cost of
 * replication on the write-out rate shows as a ratio. Printed: write-out rate, latency, and the lag
 * (median, p99, max, and how long the replica took to catch up after the last write-out).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { request, type Agent } from 'undici';
import { benchServer, percentile } from './harness.ts';
import { measure, row } from './measure.ts';

const writers = 32;

async function until(what: string, done: () => boolean, limitMs = 120_000): Promise<void> {
  const end = Date.now() + limitMs;
  while (!done()) {
    if (Date.now() > end) throw new Error(`replication bench: gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function writeOuts(server: Awaited<ReturnType<typeof benchServer>>, perWriter: number) {
  const packet = crypto.randomBytes(64 * 1024);
  const digest = `sha-256=:${crypto.createHash('sha256').update(packet).digest('base64')}:`;
  const setup = server.agent(1);
  const people = Array.from({ length: writers }, (_, i) => server.person(`writer${i}`));
  const models: string[] = [];
  for (const p of people) {
    const res = await request(`${server.url}/api/v1/models`, { method: 'POST', dispatcher: setup, body: JSON.stringify({ name: 'bench' }), headers: { authorization: `Bearer ${p.token}`, 'content-type': 'application/json' } });
    models.push(((await res.body.json()) as { id: string }).id);
  }
  await setup.close();
  const agent: Agent = server.agent(writers);
  const latencies: number[] = [];
  const m = await measure(writers * perWriter * packet.length, async () => {
    await Promise.all(people.map(async (p, i) => {
      for (let seq = 0; seq < perWriter; seq++) {
        const started = process.hrtime.bigint();
        const res = await request(`${server.url}/api/v1/models/${models[i]}/packets?base=${seq}`, {
          method: 'POST', dispatcher: agent, body: packet, headers: { authorization: `Bearer ${p.token}`, 'content-type': 'application/octet-stream', 'content-digest': digest },
        });
        await res.body.dump();
        if (res.statusCode !== 201) throw new Error(`write-out answered ${res.statusCode}`);
        latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
      }
    }));
  });
  await agent.close();
  latencies.sort((a, b) => a - b);
  return { m, count: latencies.length, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

export async function replicationBench(): Promise<void> {
  const perWriter = Number(process.env['BENCH_PACKETS_PER_WRITER'] ?? 40);
  const line = (name: string, r: Awaited<ReturnType<typeof writeOuts>>, base?: typeof r) =>
    `${row(name, r.m)}  ${(r.count / r.m.seconds).toFixed(0)} req/s  p50 ${r.p50.toFixed(1)} ms  p99 ${r.p99.toFixed(1)} ms` +
    (base ? `  ${(r.count / r.m.seconds / (base.count / base.m.seconds)).toFixed(2)}× baseline req/s` : '');

  const plain = await benchServer();
  const base = await writeOuts(plain, perWriter);
  await plain.close();

  const target = fs.mkdtempSync(path.join(os.tmpdir(), 'modelshare-bench-replica-'));
  const server = await benchServer({ MODELSHARE_REPLICATION_ENABLED: 'true', MODELSHARE_REPLICATION_PATH: target });
  const replication = server.services.replication!;
  // The harness does not start background work; replication is the point here.
  replication.start();
  await until('the replica to start', () => replication.status().lag_seconds === 0 && replication.status().position !== null);
  const lags: number[] = [];
  const sampler = setInterval(() => lags.push(replication.status().lag_seconds), 100);
  const ours = await writeOuts(server, perWriter);
  const finished = Date.now();
  await until('the replica to catch up', () => replication.status().lag_seconds === 0);
  const catchUp = (Date.now() - finished) / 1000;
  clearInterval(sampler);
  await replication.stop();
  await server.close();
  fs.rmSync(target, { recursive: true, force: true });

  lags.sort((a, b) => a - b);
  console.log(`\nreplication: ${writers} concurrent writers, 64 KiB packets over HTTPS, ${ours.count} packets; Litestream ${'0.3.13'} to a path, sync_interval 1s`);
  console.log(line('baseline: write-out without replication', base));
  console.log(line('write-out while replicating', ours, base));
  console.log(`replication lag while writing (sampled every 100 ms, ${lags.length} samples): median ${percentile(lags, 50).toFixed(2)} s  p99 ${percentile(lags, 99).toFixed(2)} s  max ${lags.at(-1)!.toFixed(2)} s; ` +
    `caught up ${catchUp.toFixed(2)} s after the last write-out`);
}
