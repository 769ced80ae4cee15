/**
 * Read-in on a long history, and start-up on a data directory of that size (issue 20). The data
 * directory is filled through the real repos, in one transaction: BENCH_HISTORY_PACKETS (default
 * 1,000,000) packets in one model, among 10,000 models and 200 people, the first person a member of
 * 1,000 models, every model with a baseline, each packet and baseline its own blob row, and
 * BENCH_BLOB_FILES (default 50,000) of those blobs as files, so the start-up finds a blob directory to
 * sweep. Blob bytes are never read here: these are the metadata paths; transfers are blob-throughput's.
 *
 * Measured against the built server in its own process (child-server.ts), sequential requests over
 * one keep-alive HTTPS connection, and against baselines from the same run: a bare HTTPS server
 * answering a small JSON body (the floor of any request), and the bare SQLite queries of the same
 * rows in this process. The query plans of the read paths are printed.
 * - start-up: from spawn to "serving", against `node -e` starting a bare HTTPS server;
 * - `GET /models/:id/packets?after=N`, N random, p50/p99 (goal p99 ≤ 10 ms);
 * - `GET /models` for the person of 1,000 models, every page, p50/p99 (goal p99 ≤ 20 ms);
 * - the server's RSS idle after start and its peak across the run.
 */
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Agent, request } from 'undici';
import { benchPerson, prepare, startChild, type Prepared } from './child-server.ts';
import { bareServer, percentile } from './harness.ts';
import { mib, type SummaryRow } from './measure.ts';

const peopleCount = 200;
const modelCount = 10_000;
const modelsOfFirst = 1_000;
const membersPerModel = 5;

interface Filled {
  tokens: string[];
  bigModel: string;
  packets: number;
  blobFiles: number;
}

/** Fills the data directory in one transaction through the repos (names sealed, stats kept by the triggers). */
async function fill(packets: number, blobFiles: number): Promise<Prepared & { filled: Filled }> {
  return prepare({}, ({ stores, services, config }) => {
    const people = Array.from({ length: peopleCount }, (_, i) => benchPerson(services, `reader${i}`));
    const repo = services.sharing.routeDeps.repo;
    const history = services.sharing.routeDeps.historyRepo;
    const db = stores.db;
    const insertBlob = db.prepare('INSERT INTO blobs (id, data_key_id, size, sha256, created_at) VALUES (?, ?, ?, ?, ?)');
    const insertEvent = db.prepare('INSERT INTO model_events (model_id, type, person_id, data, created_at) VALUES (?, ?, NULL, ?, ?)');
    const digest = crypto.createHash('sha256').update('bench').digest();
    const now = new Date().toISOString();
    const blobIds: string[] = [];
    const newBlob = (dataKeyId: string, size: number) => {
      const id = crypto.randomBytes(16).toString('hex');
      insertBlob.run(id, dataKeyId, size, digest, now);
      if (blobIds.length < blobFiles) blobIds.push(id);
      return id;
    };
    let bigModel = '';
    db.transaction(() => {
      for (let m = 0; m < modelCount; m++) {
        const id = `m_${crypto.randomBytes(12).toString('hex')}`;
        const dataKeyId = stores.keys.create('model');
        // The first person is in the first 1,000 models; everyone is in a few.
        const owner = m < modelsOfFirst ? people[0]! : people[1 + (m % (peopleCount - 1))]!;
        repo.insert({ id, organizationId: null, dataKeyId, name: `model ${m}`, description: null, ownerId: owner.id, createdAt: now });
        repo.setMember(id, owner.id, 'owner', now);
        for (let k = 1; k < membersPerModel; k++) repo.setMember(id, people[1 + ((m + k * 37) % (peopleCount - 1))]!.id, 'editor', now);
        const count = m === 0 ? packets : 0;
        if (m === 0) bigModel = id;
        const baselineSeq = Math.max(0, count - 1000);
        history.insertBaseline({ modelId: id, seq: 0, blobId: newBlob(dataKeyId, 1 << 20), authorId: owner.id, createdAt: now });
        for (let seq = 1; seq <= count; seq++) {
          history.insertPacket({ modelId: id, seq, blobId: newBlob(dataKeyId, 65536), authorId: owner.id, comment: null, createdAt: now, dataKeyId, idempotencyKey: null });
          insertEvent.run(id, 'packet', `{"model_id":"${id}","seq":${seq},"author":"${owner.id}"}`, now);
          if (seq === baselineSeq && seq > 0) history.insertBaseline({ modelId: id, seq, blobId: newBlob(dataKeyId, 1 << 20), authorId: owner.id, createdAt: now });
        }
        if (count > 0) repo.advanceHead(id, 0, count, now);
      }
    })();
    // Files for the first blobs, so the blob directory has something to walk (their bytes are never read).
    const dir = path.join(config.data_dir, 'blobs');
    for (const id of blobIds) {
      fs.mkdirSync(path.join(dir, id.slice(0, 2)), { recursive: true, mode: 0o700 });
      fs.writeFileSync(path.join(dir, id.slice(0, 2), id), '');
    }
    return { tokens: people.map((p) => p.token), bigModel, packets, blobFiles: blobIds.length };
  });
}

const stats = (ms: number[]) => {
  ms.sort((a, b) => a - b);
  return { p50: percentile(ms, 50), p99: percentile(ms, 99), n: ms.length };
};

async function timed(times: number[], work: () => Promise<void>): Promise<void> {
  const started = process.hrtime.bigint();
  await work();
  times.push(Number(process.hrtime.bigint() - started) / 1e6);
}

/** Milliseconds from spawn to a bare HTTPS server listening, with the same node. */
async function bareStartup(key: string, cert: string): Promise<number> {
  const script = `const https=require('node:https'),fs=require('node:fs');https.createServer({key:fs.readFileSync(${JSON.stringify(key)}),cert:fs.readFileSync(${JSON.stringify(cert)})},(q,s)=>s.end('{}')).listen(0,'127.0.0.1',function(){console.log('serving');this.close()})`;
  const started = process.hrtime.bigint();
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  await new Promise((r) => child.once('exit', r));
  return ms;
}

export async function historyBench(): Promise<SummaryRow[]> {
  const packets = Number(process.env['BENCH_HISTORY_PACKETS'] ?? 1_000_000);
  const blobFiles = Number(process.env['BENCH_BLOB_FILES'] ?? 50_000);
  const filling = process.hrtime.bigint();
  const prepared = await fill(packets, blobFiles);
  const fillSeconds = Number(process.hrtime.bigint() - filling) / 1e9;
  const { tokens, bigModel } = prepared.filled;
  const dbFile = path.join(prepared.dir, 'modelshare.db');
  const dbBytes = fs.existsSync(dbFile) ? fs.statSync(dbFile).size : 0;
  try {
    // Start-up, twice each (the first run of the server on the directory applies nothing new, but warms the page cache for both).
    const certDir = path.join(prepared.dir, 'bare-cert');
    fs.mkdirSync(certDir);
    const { execFileSync } = await import('node:child_process');
    const key = path.join(certDir, 'k.pem');
    const cert = path.join(certDir, 'c.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    const bareStart = Math.min(await bareStartup(key, cert), await bareStartup(key, cert));
    // The same server on an empty data directory: what start-up costs before any data (loading its code).
    const empty = await prepare({}, () => undefined);
    let emptyStart = Infinity;
    for (let i = 0; i < 2; i++) {
      const s = await startChild(empty);
      emptyStart = Math.min(emptyStart, s.startupMs);
      await s.stop();
    }
    fs.rmSync(empty.dir, { recursive: true, force: true });
    const first = await startChild(prepared);
    await first.stop();
    const server = await startChild(prepared, {}, process.env['BENCH_SERVER_NODE_ARGS']?.split(' ').filter(Boolean) ?? []);
    const agent = server.agent(1);
    const bareAgent = new Agent({ connect: { ca: fs.readFileSync(cert, 'utf8') }, connections: 1 });
    const bare = await bareServer({ key: fs.readFileSync(key), cert: fs.readFileSync(cert) }, (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"packets":[],"head":0,"next":null}'));
    try {
      const startupMs = server.startupMs;
      await new Promise((r) => setTimeout(r, 300));
      const idleRss = server.rss();
      server.resetPeak();
      const get = async (url: string, token: string, dispatcher: Agent) => {
        const res = await request(url, { dispatcher, headers: { authorization: `Bearer ${token}` } });
        const body = await res.body.text();
        if (res.statusCode !== 200) throw new Error(`${url} answered ${res.statusCode}: ${body}`);
        return body;
      };
      const requests = Number(process.env['BENCH_HISTORY_REQUESTS'] ?? 500);
      const bareTimes: number[] = [];
      for (let i = 0; i < requests; i++) await timed(bareTimes, async () => void (await get(`${bare.url}/x`, 'x', bareAgent)));
      const readIn: number[] = [];
      for (let i = 0; i < requests; i++) {
        const after = Math.floor(Math.random() * (packets - 50));
        await timed(readIn, async () => void (await get(`${server.url}/api/v1/models/${bigModel}/packets?after=${after}`, tokens[0]!, agent)));
      }
      const list: number[] = [];
      let pages = 0;
      while (list.length < requests) {
        let next: string | null = '';
        do {
          let body = '';
          const cursor: string = next ? `?next=${encodeURIComponent(next)}` : '';
          await timed(list, async () => void (body = await get(`${server.url}/api/v1/models${cursor}`, tokens[0]!, agent)));
          const page = JSON.parse(body) as { models: unknown[]; next: string | null };
          pages += page.models.length > 0 ? 1 : 0;
          next = page.next;
        } while (next && list.length < requests);
      }
      // Join, the metadata part: the model (its latest baseline), then every packet after it, in pages of 200.
      const join: number[] = [];
      let listed = 0;
      for (let i = 0; i < 20; i++) {
        await timed(join, async () => {
          const model = JSON.parse(await get(`${server.url}/api/v1/models/${bigModel}`, tokens[0]!, agent)) as { latest_baseline: { seq: number } };
          listed = 0;
          for (let after = model.latest_baseline.seq; ;) {
            const page = JSON.parse(await get(`${server.url}/api/v1/models/${bigModel}/packets?after=${after}&limit=200`, tokens[0]!, agent)) as { packets: { seq: number; size: number }[]; next: string | null };
            listed += page.packets.length;
            if (page.packets.length === 0 || !page.next) break;
            after = page.packets.at(-1)!.seq;
          }
        });
      }
      // The bare SQLite reads of the same rows, in this process (read-only, while the server runs).
      const db = new Database(dbFile, { readonly: true });
      const packetsAfter = db.prepare('SELECT model_id, seq, blob_id, author_id, comment_sealed, created_at, pruned_at, branch_id, rolled_back_to FROM packets WHERE model_id = ? AND seq > ? ORDER BY seq LIMIT ?');
      const blob = db.prepare('SELECT id, data_key_id, size, sha256, sha512, created_at FROM blobs WHERE id = ?');
      const sqlTimes: number[] = [];
      for (let i = 0; i < requests; i++) {
        const after = Math.floor(Math.random() * (packets - 50));
        const started = process.hrtime.bigint();
        for (const row of packetsAfter.all(bigModel, after, 51) as { blob_id: string }[]) blob.get(row.blob_id);
        sqlTimes.push(Number(process.hrtime.bigint() - started) / 1e6);
      }
      db.close();
      const peakRss = server.peakRss();
      const b = stats(bareTimes);
      const r = stats(readIn);
      const l = stats(list);
      const q = stats(sqlTimes);
      console.log(`\nread-in on a long history: ${packets} packets in one model, ${modelCount} models, ${peopleCount} people; database ${mib(dbBytes)}, filled in ${fillSeconds.toFixed(0)} s; ${prepared.filled.blobFiles} blob files`);
      console.log(`start-up to serving                          ${startupMs.toFixed(0)} ms   on an empty data dir ${emptyStart.toFixed(0)} ms   baseline: node -e bare HTTPS server ${bareStart.toFixed(0)} ms`);
      console.log(`baseline: bare HTTPS small JSON              p50 ${b.p50.toFixed(2)} ms  p99 ${b.p99.toFixed(2)} ms  (${b.n} requests)`);
      console.log(`baseline: bare SQLite, 51 packets + blobs    p50 ${q.p50.toFixed(3)} ms  p99 ${q.p99.toFixed(3)} ms`);
      console.log(`GET /models/:id/packets?after=N              p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms  (${r.n} requests)`);
      console.log(`GET /models, person in ${modelsOfFirst} models, all pages  p50 ${l.p50.toFixed(2)} ms  p99 ${l.p99.toFixed(2)} ms  (${l.n} requests)`);
      const j = stats(join);
      console.log(`join metadata: latest baseline + ${listed} packets since, listed  p50 ${j.p50.toFixed(1)} ms  p99 ${j.p99.toFixed(1)} ms  (their bytes: ${mib(listed * 65536 + (1 << 20))})`);
      console.log(`server RSS idle ${mib(idleRss)}, peak during the reads ${mib(peakRss)}`);
      const floor = b.p99 + q.p99;
      return [
        { figure: 'start-up on 1M-packet data dir', value: `${startupMs.toFixed(0)} ms`, baseline: `${bareStart.toFixed(0)} ms bare, ${emptyStart.toFixed(0)} ms empty dir`, ratio: `${(startupMs / emptyStart).toFixed(2)}× empty`, goal: '≤ 2000 ms', met: startupMs <= 2000 },
        { figure: 'GET packets?after=N p99 (1M packets)', value: `${r.p99.toFixed(2)} ms`, baseline: `${floor.toFixed(2)} ms`, ratio: `${(r.p99 / floor).toFixed(2)}×`, goal: '≤ 10 ms', met: r.p99 <= 10 },
        { figure: 'GET /models p99, person in 1,000 models', value: `${l.p99.toFixed(2)} ms`, baseline: `${b.p99.toFixed(2)} ms`, ratio: `${(l.p99 / b.p99).toFixed(2)}×`, goal: '≤ 20 ms', met: l.p99 <= 20 },
        { figure: `join metadata (${listed} packets since the baseline)`, value: `${j.p50.toFixed(1)} ms p50`, baseline: `${mib(listed * 65536 + (1 << 20))} to move`, ratio: '—', goal: '≪ transfer', met: null },
        { figure: 'server RSS idle / peak (history reads)', value: `${mib(idleRss)} / ${mib(peakRss)}`, baseline: '—', ratio: '—', goal: '< 150 MiB', met: peakRss < 150 * 1024 * 1024 },
      ];
    } finally {
      await bare.close();
      await bareAgent.close();
      await agent.close();
      await server.stop();
    }
  } finally {
    fs.rmSync(prepared.dir, { recursive: true, force: true });
  }
}
