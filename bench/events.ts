/**
 * Notifications at scale (issue 20): BENCH_STREAMS (default 10,000) open event streams on one server
 * process, held by two client processes, and BENCH_NOTIFY_ROUNDS write-outs on a model all 200
 * people belong to. Measured on the real server (built, in its own process, see child-server.ts) and
 * on the baseline, a bare Node HTTPS server in its own process holding the same number of SSE
 * responses and writing one frame to each when triggered:
 * - delivery delay, from the moment the write-out (or trigger) is sent to a frame's arrival, and from
 *   its 201, over every stream and round (p50, p99, max);
 * - memory per open stream (the server's RSS with the streams open, less its RSS before), and the
 *   server's peak RSS (VmHWM);
 * - the server's CPU time per write-out (user + system, write-out and fan-out to every stream).
 * It replaces the 200-subscriber figure sharing.ts measured with client and server in one process.
 */
import { fork, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { benchPerson, prepare, startChild } from './child-server.ts';
import { percentile } from './harness.ts';
import { cpuMs, mib, rssOf, type SummaryRow } from './measure.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const people = 200;

interface Client {
  child: ChildProcess;
  ask<T>(message: object): Promise<T>;
}

function startClient(): Promise<Client> {
  const child = fork(path.join(here, 'sse-client.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ask = <T>(message: object) =>
    new Promise<T>((resolve) => {
      child.once('message', (m) => resolve(m as T));
      child.send(message);
    });
  return new Promise((resolve) => child.once('message', () => resolve({ child, ask })));
}

const peakOf = (pid: number) => Number(/VmHWM:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Scenario {
  pid: number;
  url: string;
  ca: string;
  /** The token of stream `i`. */
  token(i: number): string;
  path: string;
  /** Sends write-out `seq` (1, 2, …); resolves when it was acknowledged. */
  trigger(seq: number): Promise<void>;
}

interface Outcome {
  opened: number;
  failed: number;
  perStreamBytes: number;
  idleRss: number;
  openRss: number;
  peakRss: number;
  openSeconds: number;
  fromSend: { p50: number; p99: number; max: number };
  fromAck: { p50: number; p99: number; max: number };
  missing: number;
  cpuPerWriteOutMs: number;
}

async function run(s: Scenario, clients: Client[], streams: number, rounds: number): Promise<Outcome> {
  await sleep(500);
  const idleRss = rssOf(s.pid);
  const share = Math.ceil(streams / clients.length);
  const opening = performance.now();
  const opened = await Promise.all(clients.map((c, k) => {
    const tokens = Array.from({ length: Math.min(share, streams - k * share) }, (_, j) => s.token(k * share + j));
    return c.ask<{ opened: number; failed: number }>({ open: { url: `${s.url}${s.path}`, ca: s.ca, tokens, concurrency: 32 } });
  }));
  const openSeconds = (performance.now() - opening) / 1000;
  process.stderr.write(`  ${s.path}: ${opened.reduce((n, o) => n + o.opened, 0)} streams open in ${openSeconds.toFixed(0)} s\n`);
  await sleep(1000);
  const openRss = rssOf(s.pid);
  const sent = new Map<number, number>();
  const acked = new Map<number, number>();
  const now = () => performance.timeOrigin + performance.now();
  const cpuBefore = cpuMs(s.pid);
  for (let seq = 1; seq <= rounds; seq++) {
    sent.set(seq, now());
    await s.trigger(seq);
    acked.set(seq, now());
    await sleep(500);
  }
  await sleep(2000);
  const cpu = (cpuMs(s.pid) - cpuBefore) / rounds;
  const reports = await Promise.all(clients.map((c) => c.ask<{ arrivals: Record<string, number[]> }>({ report: true })));
  const fromSend: number[] = [];
  const fromAck: number[] = [];
  let delivered = 0;
  for (const { arrivals } of reports) {
    for (const [seq, times] of Object.entries(arrivals)) {
      delivered += times.length;
      for (const at of times) {
        fromSend.push(at - sent.get(Number(seq))!);
        fromAck.push(at - acked.get(Number(seq))!);
      }
    }
  }
  const stats = (a: number[]) => {
    a.sort((x, y) => x - y);
    return { p50: percentile(a, 50), p99: percentile(a, 99), max: a.at(-1) ?? NaN };
  };
  const total = opened.reduce((n, o) => n + o.opened, 0);
  return {
    opened: total,
    failed: opened.reduce((n, o) => n + o.failed, 0),
    perStreamBytes: (openRss - idleRss) / Math.max(1, total),
    openSeconds,
    idleRss,
    openRss,
    peakRss: peakOf(s.pid),
    fromSend: stats(fromSend),
    fromAck: stats(fromAck),
    missing: total * rounds - delivered,
    cpuPerWriteOutMs: cpu,
  };
}

/** A self-signed RSA certificate for the bare baseline (RSA, as the managed CA issues). */
function bareCertificate(dir: string): { key: string; cert: string; ca: string } {
  const key = path.join(dir, 'bare.key');
  const cert = path.join(dir, 'bare.crt');
  const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`openssl failed: ${made.stderr}`);
  return { key, cert, ca: fs.readFileSync(cert, 'utf8') };
}

async function startBare(key: string, cert: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [path.join(here, 'bare-sse-server.mjs')], { env: { ...process.env, BARE_KEY: key, BARE_CERT: cert }, stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.once('data', (chunk: Buffer) => resolve((JSON.parse(chunk.toString('utf8')) as { url: string }).url));
    child.once('exit', (code) => reject(new Error(`bare server exited ${code}`)));
  });
  return { child, url };
}

const line = (name: string, o: Outcome) =>
  `${name.padEnd(34)} ${String(o.opened).padStart(6)} open (${o.failed} refused) in ${o.openSeconds.toFixed(0)} s  from send p50 ${o.fromSend.p50.toFixed(1)} / p99 ${o.fromSend.p99.toFixed(1)} / max ${o.fromSend.max.toFixed(1)} ms` +
  `  from 201 p99 ${o.fromAck.p99.toFixed(1)} ms  missing ${o.missing}  ${(o.perStreamBytes / 1024).toFixed(1)} KiB/stream` +
  `  RSS idle ${mib(o.idleRss)} open ${mib(o.openRss)} peak ${mib(o.peakRss)}  CPU ${o.cpuPerWriteOutMs.toFixed(1)} ms/write-out`;

export async function eventsBench(): Promise<SummaryRow[]> {
  const streams = Number(process.env['BENCH_STREAMS'] ?? 10_000);
  const rounds = Number(process.env['BENCH_NOTIFY_ROUNDS'] ?? 20);
  const prepared = await prepare({}, ({ stores, services }) => {
    const all = Array.from({ length: people }, (_, i) => benchPerson(services, `listener${i}`));
    const repo = services.sharing.routeDeps.repo;
    const modelId = `m_${crypto.randomBytes(12).toString('hex')}`;
    const now = new Date().toISOString();
    stores.db.transaction(() => {
      const dataKeyId = stores.keys.create('model');
      repo.insert({ id: modelId, organizationId: null, dataKeyId, name: 'notify', description: null, ownerId: all[0]!.id, createdAt: now });
      all.forEach((p, i) => repo.setMember(modelId, p.id, i === 0 ? 'owner' : 'viewer', now));
    })();
    return { tokens: all.map((p) => p.token), modelId };
  });
  const { tokens, modelId } = prepared.filled;
  const certDir = fs.mkdtempSync(path.join(os.tmpdir(), 'modelshare-bare-'));
  const bareCert = bareCertificate(certDir);
  const clients = await Promise.all([startClient(), startClient()]);
  const packet = Buffer.from('a small change packet');
  const digest = `sha-256=:${crypto.createHash('sha256').update(packet).digest('base64')}:`;
  try {
    const bare = await startBare(bareCert.key, bareCert.cert);
    const bareAgent = new Agent({ connect: { ca: bareCert.ca }, connections: 1 });
    const base = await run({
      pid: bare.child.pid!, url: bare.url, ca: bareCert.ca, token: () => 'x', path: '/events',
      trigger: async (seq) => void (await (await request(`${bare.url}/trigger?seq=${seq}`, { method: 'POST', dispatcher: bareAgent, body: packet })).body.dump()),
    }, clients, streams, rounds);
    await bareAgent.close();
    bare.child.kill('SIGTERM');

    const fresh = await Promise.all([startClient(), startClient()]);
    clients.forEach((c) => c.child.kill());
    clients.splice(0, clients.length, ...fresh);
    const server = await startChild(prepared, { MODELSHARE_EVENTS_MAX_STREAMS_PER_PERSON: String(Math.ceil(streams / people)) }, process.env['BENCH_SERVER_NODE_ARGS']?.split(' ').filter(Boolean) ?? []);
    const agent = server.agent(1);
    let ours: Outcome;
    try {
      ours = await run({
        pid: server.child.pid!, url: server.url, ca: server.ca, token: (i) => tokens[i % people]!, path: '/api/v1/events',
        trigger: async (seq) => {
          const res = await request(`${server.url}/api/v1/models/${modelId}/packets?base=${seq - 1}`, { method: 'POST', dispatcher: agent, body: packet, headers: { authorization: `Bearer ${tokens[0]}`, 'content-type': 'application/octet-stream', 'content-digest': digest } });
          await res.body.dump();
          if (res.statusCode !== 201) throw new Error(`write-out answered ${res.statusCode}`);
        },
      }, clients, streams, rounds);
    } finally {
      // The clients go first, so the server's shutdown does not wait for open streams.
      for (const c of clients) c.child.kill();
      await sleep(500);
      await agent.close();
      await server.stop();
    }
    console.log(`\nnotifications: ${streams} SSE streams (${people} people, 2 client processes), ${rounds} write-outs; server in its own process`);
    console.log(line('baseline: bare HTTPS broadcaster', base));
    console.log(line('modelshare /api/v1/events', ours));
    return [
      { figure: `notification delay p99, ${streams} streams (from send)`, value: `${ours.fromSend.p99.toFixed(1)} ms`, baseline: `${base.fromSend.p99.toFixed(1)} ms`, ratio: `${(ours.fromSend.p99 / base.fromSend.p99).toFixed(2)}×`, goal: '≤ 50 ms', met: ours.fromSend.p99 <= 50 && ours.missing === 0 },
      { figure: 'memory per open event stream', value: `${(ours.perStreamBytes / 1024).toFixed(1)} KiB`, baseline: `${(base.perStreamBytes / 1024).toFixed(1)} KiB`, ratio: `${(ours.perStreamBytes / base.perStreamBytes).toFixed(2)}×`, goal: '—', met: null },
      { figure: 'server CPU per write-out (fan-out incl.)', value: `${ours.cpuPerWriteOutMs.toFixed(1)} ms`, baseline: `${base.cpuPerWriteOutMs.toFixed(1)} ms`, ratio: `${(ours.cpuPerWriteOutMs / base.cpuPerWriteOutMs).toFixed(2)}×`, goal: '—', met: null },
      { figure: `server peak RSS, ${streams} streams`, value: mib(ours.peakRss), baseline: mib(base.peakRss), ratio: `${(ours.peakRss / base.peakRss).toFixed(2)}×`, goal: '< 150 MiB', met: ours.peakRss < 150 * 1024 * 1024 },
    ];
  } finally {
    for (const c of clients) c.child.kill();
    fs.rmSync(certDir, { recursive: true, force: true });
    fs.rmSync(prepared.dir, { recursive: true, force: true });
  }
}
