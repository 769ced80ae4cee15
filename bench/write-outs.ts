/**
 * Write-outs: 64 KiB packets from 32 concurrent writers over HTTPS, the real server (built, in its
 * own process) against a bare Koa HTTPS endpoint in its own process that reads and discards the same
 * bodies. Run twice: with every packet in a file of its own (storage.inline_max_bytes 0, the default)
 * and with small packets sealed into the database (inline_max_bytes 256KiB): the measured decision.
 * Packets per writer: BENCH_PACKETS_PER_WRITER (default 40); BENCH_SERVER_NODE_ARGS: node options of the server.
 */
import crypto from 'node:crypto';
import { request, type Agent } from 'undici';
import { percentile } from './harness.ts';
import { benchPerson, prepare, startBare, startChild, type ChildServer } from './child-server.ts';
import { goal, measure, mib, row, type Measurement } from './measure.ts';

const writers = 32;

async function post(agent: Agent, url: string, token: string, body: Buffer, digest: string) {
  const started = process.hrtime.bigint();
  const res = await request(url, { method: 'POST', dispatcher: agent, body, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream', 'content-digest': digest } });
  await res.body.dump();
  return { status: res.statusCode, ms: Number(process.hrtime.bigint() - started) / 1e6 };
}

interface Run {
  m: Measurement;
  p50: number;
  p99: number;
  count: number;
  peak: number;
}

export async function writeOutBench(): Promise<void> {
  const perWriter = Number(process.env['BENCH_PACKETS_PER_WRITER'] ?? 40);
  const packet = crypto.randomBytes(64 * 1024);
  const digest = `sha-256=:${crypto.createHash('sha256').update(packet).digest('base64')}:`;
  const prepared = await prepare({}, ({ services }) => Array.from({ length: writers }, (_, i) => benchPerson(services, `writer${i}`)));
  const people = prepared.filled;

  const run = async (server: Omit<ChildServer, 'startupMs'>, urlFor: (i: number, seq: number) => string): Promise<Run> => {
    const agent = server.agent(writers);
    const latencies: number[] = [];
    server.resetPeak();
    const m = await measure(writers * perWriter * packet.length, async () => {
      await Promise.all(Array.from({ length: writers }, async (_, i) => {
        for (let seq = 0; seq < perWriter; seq++) {
          const r = await post(agent, urlFor(i, seq), people[i]!.token, packet, digest);
          if (r.status !== 201) throw new Error(`write-out answered ${r.status}`);
          latencies.push(r.ms);
        }
      }));
    });
    const peak = server.peakRss();
    await agent.close();
    latencies.sort((a, b) => a - b);
    return { m, p50: percentile(latencies, 50), p99: percentile(latencies, 99), count: latencies.length, peak };
  };

  const bare = await startBare(prepared, 'koa');
  let base: Run;
  try {
    base = await run(bare, () => `${bare.url}/discard`);
  } finally {
    await bare.stop();
  }
  const ours = async (env: Record<string, string>) => {
    // BENCH_SERVER_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") profiles the server.
    const server = await startChild(prepared, env, (process.env['BENCH_SERVER_NODE_ARGS'] ?? '').split(' ').filter(Boolean));
    try {
      const agent = server.agent(4);
      const models = await Promise.all(people.map(async (p) => {
        const res = await request(`${server.url}/api/v1/models`, { method: 'POST', dispatcher: agent, body: JSON.stringify({ name: 'bench' }), headers: { authorization: `Bearer ${p.token}`, 'content-type': 'application/json' } });
        return ((await res.body.json()) as { id: string }).id;
      }));
      await agent.close();
      return await run(server, (i, seq) => `${server.url}/api/v1/models/${models[i]}/packets?base=${seq}`);
    } finally {
      await server.stop();
    }
  };
  const files = await ours({ MODELSHARE_STORAGE_INLINE_MAX_BYTES: '0' });
  const inline = await ours({ MODELSHARE_STORAGE_INLINE_MAX_BYTES: '256KiB' });

  const rate = (r: Run) => r.count / r.m.seconds;
  const line = (name: string, r: Run) => `${row(name, r.m).replace(/peak RSS.*$/, '')}${rate(r).toFixed(0)} req/s  p50 ${r.p50.toFixed(1)} ms  p99 ${r.p99.toFixed(1)} ms  server peak RSS ${mib(r.peak)}`;
  console.log(`\nwrite-out: 64 KiB packets, ${writers} concurrent writers over HTTPS, ${base.count} packets; each server in a process of its own`);
  console.log(line('baseline: bare Koa HTTPS, read and discard', base));
  for (const [name, r] of [['write-out, a file per packet (the default)', files], ['write-out, packets sealed into the database', inline]] as const) {
    console.log(line(name, r));
    console.log(`${''.padEnd(46)} req/s ${goal(rate(r) / rate(base), { atLeast: 0.6 })}  p99 ${goal(r.p99, { atMost: 50 }, ' ms', 1)}`);
  }
}
