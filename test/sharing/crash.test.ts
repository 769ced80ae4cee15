/**
 * kill -9 in the middle of a stream of write-outs: after a restart every acknowledged packet is there,
 * whole and digest-valid, the log has no gap, and nothing partial is listed or left on disk.
 */
import crypto from 'node:crypto';
import path from 'node:path';
import Database from 'better-sqlite3';
import test from 'ava';
import { digestHeader, sha256 } from '../helpers/people.ts';
import { runCommand, spawnServer, type SpawnedServer } from '../helpers/spawn.ts';
import { filesUnder, tmpDir } from '../helpers/tmp.ts';
import { sharedS3, testBlobEnv, testBlobsOnS3 } from '../helpers/s3.ts';

function api(server: SpawnedServer, token: string) {
  return (method: string, p: string, init: { json?: unknown; raw?: Buffer; headers?: Record<string, string> } = {}) =>
    server.fetch(`${server.url}${p}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(init.json ? { 'content-type': 'application/json' } : {}), ...(init.raw ? { 'content-type': 'application/octet-stream' } : {}), ...init.headers },
      body: init.json ? JSON.stringify(init.json) : init.raw,
    });
}

test('SIGKILL during a stream of write-outs loses no acknowledged packet and leaves nothing partial', async (t) => {
  const dir = tmpDir(t);
  const env: Record<string, string> = { MODELSHARE_DATA_DIR: dir, MODELSHARE_DEMO_ENABLED: 'off', MODELSHARE_STORAGE_INLINE_MAX_BYTES: '256KiB', ...(await testBlobEnv()) };
  const token = runCommand(['admin', 'token', '--email', 'crash@firm.example'], env).stdout.trim();
  const server = await spawnServer(t, env);
  const call = api(server, token);
  const created = await call('POST', '/api/v1/models', { json: { name: 'Crash test' } });
  t.is(created.status, 201);
  const model = (await created.json()) as { id: string };
  const acknowledged = new Map<number, Buffer>();
  let killed = false;
  let writerDone = false;
  const writer = (async () => {
    for (let base = 0; !killed; base++) {
      // Every other packet is small enough to be sealed into the database (storage.inline_max_bytes),
      // the others go to blob files: both must survive the kill.
      const body = crypto.randomBytes(base % 2 === 0 ? 100_000 + base : 256 * 1024 + base);
      try {
        const res = await call('POST', `/api/v1/models/${model.id}/packets?base=${base}`, { raw: body, headers: { 'content-digest': digestHeader(body) } });
        if (res.status !== 201) throw new Error(`write-out answered ${res.status}`);
        const created = (await res.json()) as { seq: number };
        acknowledged.set(created.seq, body);
      } catch {
        return;
      }
    }
  })().finally(() => (writerDone = true));
  // Kill once some packets are in, while the next one is being written.
  while (acknowledged.size < 8 && !writerDone) await new Promise((r) => setTimeout(r, 5));
  t.false(writerDone, 'the writer was still writing when the server was killed');
  killed = true;
  server.child.kill('SIGKILL');
  await server.exited;
  await writer;

  const restarted = await spawnServer(t, env);
  const again = api(restarted, token);
  const list = (await (await again('GET', `/api/v1/models/${model.id}/packets?after=0&limit=200`)).json()) as { packets: { seq: number; digest: string; size: number }[]; head: number };
  t.true(list.head >= acknowledged.size);
  t.deepEqual(list.packets.map((p) => p.seq), Array.from({ length: list.head }, (_, i) => i + 1), 'no gap, nothing partial');
  for (const packet of list.packets) {
    const res = await again('GET', `/api/v1/models/${model.id}/packets/${packet.seq}`);
    const bytes = Buffer.from(await res.arrayBuffer());
    t.is(res.headers.get('content-digest'), packet.digest);
    t.is(digestHeader(bytes), packet.digest, `packet ${packet.seq} is digest-valid`);
    const sent = acknowledged.get(packet.seq);
    if (sent) t.true(sha256(sent).equals(sha256(bytes)), `acknowledged packet ${packet.seq} is intact`);
  }
  for (const seq of acknowledged.keys()) t.true(seq <= list.head, `acknowledged packet ${seq} is listed`);
  t.deepEqual(filesUnder(path.join(dir, 'blobs', 'staging')), [], 'no staging leftovers after the restart');
  // Its idle crypto workers (started when it began serving) do not keep it from exiting.
  restarted.child.kill('SIGTERM');
  t.deepEqual(await restarted.exited, { code: 0, signal: null });
  const db = new Database(path.join(dir, 'modelshare.db'), { readonly: true });
  const inline = (db.prepare('SELECT count(*) AS n FROM blob_inline').get() as { n: number }).n;
  db.close();
  t.true(inline > 0 && inline < list.head, `both inline and file packets were acknowledged (${inline} of ${list.head} inline)`);
  if (testBlobsOnS3) {
    // In the bucket: no incomplete multipart upload, and no object but the blobs the catalog lists
    // outside the database.
    const s3 = await sharedS3();
    const bucket = env['MODELSHARE_STORAGE_S3_BUCKET']!;
    t.deepEqual(s3.uploads(bucket), [], 'no incomplete upload after the restart');
    t.is(s3.objects(bucket).length, list.head - inline, 'no object but the acknowledged packets\' after the restart');
  }
});

test('SIGTERM lets a write-out in flight finish with its 201, then the server exits cleanly', async (t) => {
  const dir = tmpDir(t);
  const env: Record<string, string> = { MODELSHARE_DATA_DIR: dir, MODELSHARE_DEMO_ENABLED: 'off', ...(await testBlobEnv()) };
  const token = runCommand(['admin', 'token', '--email', 'drain@firm.example'], env).stdout.trim();
  const server = await spawnServer(t, env);
  const call = api(server, token);
  const model = (await (await call('POST', '/api/v1/models', { json: { name: 'Drain' } })).json()) as { id: string };
  const body = crypto.randomBytes(4 * 1024 * 1024);
  const https = await import('node:https');
  const answered = new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = https.request(`${server.url}/api/v1/models/${model.id}/packets?base=0`, {
      method: 'POST',
      ca: server.ca,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream', 'content-length': String(body.length), 'content-digest': digestHeader(body) },
    }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode!, body: text }));
    });
    req.on('error', reject);
    // Half the body, then SIGTERM, then the rest: the request was in flight when the signal came.
    req.write(body.subarray(0, body.length / 2), () => {
      server.child.kill('SIGTERM');
      setTimeout(() => req.end(body.subarray(body.length / 2)), 200);
    });
  });
  const result = await answered;
  t.is(result.status, 201, result.body);
  t.like(JSON.parse(result.body), { seq: 1, digest: digestHeader(body) });
  t.deepEqual(await server.exited, { code: 0, signal: null });
  t.regex(server.output(), /shutting down: finishing requests in flight/);
});
