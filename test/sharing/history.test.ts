import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import test from 'ava';
import { modelWorld } from '../helpers/models.ts';
import { digestHeader, sha256, writeOut } from '../helpers/people.ts';
import { startServer, type TestServer } from '../helpers/server.ts';
import { stagedBlobs, storedBlobs } from '../helpers/blob-store.ts';

const bytes = (n: number) => crypto.randomBytes(n);

function listed(server: TestServer) {
  return server.stores.db.prepare('SELECT count(*) AS n FROM packets').get() as { n: number };
}

test('write out and read in: packets numbered without gaps, with digest, comment and author', async (t) => {
  const server = await startServer(t);
  const w = await modelWorld(t, server);
  const m = `/api/v1/models/${w.modelId}`;
  const first = bytes(70_000);
  const created = await writeOut(w.editor, w.modelId, 0, first, { 'modelshare-comment': encodeURIComponent('Moved column C3 → grid B/4') });
  t.is(created.status, 201, JSON.stringify(created.body));
  t.like(created.body, { seq: 1, size: 70_000, digest: digestHeader(first), author: w.editor.id, comment: 'Moved column C3 → grid B/4' });
  const second = bytes(10);
  t.like((await writeOut(w.owner, w.modelId, 1, second)).body, { seq: 2 });

  const read = await w.viewer.call('GET', `${m}/packets?after=0`);
  t.is(read.body['head'], 2);
  t.deepEqual((read.body['packets'] as Record<string, unknown>[]).map((p) => [p['seq'], p['size'], p['author']]), [[1, 70_000, w.editor.id], [2, 10, w.owner.id]]);
  t.is(read.body['next'], null);
  const page = await w.viewer.call('GET', `${m}/packets?after=0&limit=1`);
  t.is((page.body['packets'] as unknown[]).length, 1);
  const rest = await w.viewer.call('GET', `${m}/packets?next=${page.body['next']}`);
  t.deepEqual((rest.body['packets'] as Record<string, unknown>[]).map((p) => p['seq']), [2]);

  const download = await w.viewer.call('GET', `${m}/packets/1`);
  t.is(download.status, 200);
  t.deepEqual(download.bytes, first);
  t.is(download.headers.get('content-digest'), digestHeader(first));
  t.is(download.headers.get('modelshare-seq'), '1');
  const want512 = await w.viewer.call('GET', `${m}/packets/1`, { headers: { 'want-content-digest': 'sha-512=9, sha-256=1' } });
  t.is(want512.headers.get('content-digest'), digestHeader(first), 'sha-512 was not sent at upload: sha-256 it is');

  t.is((await writeOut(w.viewer, w.modelId, 2, bytes(5))).status, 403, 'viewers do not write out');
  t.is((await writeOut(w.outsider, w.modelId, 2, bytes(5))).status, 404);
  const behind = await writeOut(w.editor, w.modelId, 1, bytes(5));
  t.is(behind.status, 409);
  t.like(behind.body, { code: 'not_up_to_date', head: 2 });
});

test('racing writers with the same base: exactly one wins, the rest get 409, no gap', async (t) => {
  const server = await startServer(t);
  const w = await modelWorld(t, server);
  const writers = [w.owner, w.admin, w.editor, w.owner, w.admin, w.editor, w.owner, w.editor];
  // 300,000 bytes: above storage.inline_max_bytes, so every racer writes a blob file.
  const results = await Promise.all(writers.map((who) => writeOut(who, w.modelId, 0, bytes(300_000))));
  t.deepEqual(results.map((r) => r.status).sort(), [201, 409, 409, 409, 409, 409, 409, 409]);
  t.is(listed(server).n, 1);
  t.is((await w.viewer.call('GET', `/api/v1/models/${w.modelId}`)).body['head'], 1);
  await new Promise((r) => setImmediate(r));
  // Losers' bytes are gone: one blob file for the one packet.
  t.is((await storedBlobs(server)).length, 1);
  t.is(await stagedBlobs(server), 0);
});

test('a retried write-out with the same Idempotency-Key returns the first result and creates nothing twice', async (t) => {
  const server = await startServer(t);
  const w = await modelWorld(t, server);
  const body = bytes(1000);
  const key = crypto.randomUUID();
  const first = await writeOut(w.editor, w.modelId, 0, body, { 'idempotency-key': key });
  const retry = await writeOut(w.editor, w.modelId, 0, body, { 'idempotency-key': key });
  t.is(first.status, 201);
  t.is(retry.status, 201);
  t.deepEqual(retry.body, first.body);
  t.is(retry.headers.get('idempotent-replayed'), 'true');
  t.is(listed(server).n, 1);
  t.is((await writeOut(w.editor, w.modelId, 0, body, { 'idempotency-key': 'not a uuid!' })).status, 400);
});

test('bad uploads get a problem document and leave nothing behind', async (t) => {
  const server = await startServer(t, { MODELSHARE_LIMITS_PACKET: '256KiB' });
  const w = await modelWorld(t, server);
  const m = `/api/v1/models/${w.modelId}`;
  const body = bytes(100_000);
  const cases: [string, Record<string, string>, Buffer, number, string][] = [
    ['wrong digest', { 'content-digest': digestHeader(bytes(10)) }, body, 400, 'digest_mismatch'],
    ['no digest', {}, body, 400, 'digest_required'],
    ['malformed digest', { 'content-digest': 'sha-256=abc' }, body, 400, 'bad_request'],
    ['oversized', { 'content-digest': digestHeader(bytes(300_000)) }, bytes(300_000), 413, 'payload_too_large'],
    ['wrong type', { 'content-digest': digestHeader(body), 'content-type': 'text/plain' }, body, 415, 'unsupported_media_type'],
    ['long comment', { 'content-digest': digestHeader(body), 'modelshare-comment': 'x'.repeat(2001) }, body, 400, 'validation_failed'],
    ['broken comment', { 'content-digest': digestHeader(body), 'modelshare-comment': '%E0%A4%A' }, body, 400, 'validation_failed'],
  ];
  for (const [name, headers, raw, status, code] of cases) {
    const res = await w.editor.call('POST', `${m}/packets?base=0`, { raw, headers });
    t.is(res.status, status, name);
    t.is(res.body['code'], code, name);
  }
  for (const base of ['-1', 'abc', '1e3', '']) t.is((await w.editor.call('POST', `${m}/packets?base=${base}`, { raw: body, headers: { 'content-digest': digestHeader(body) } })).status, 400, `base=${base}`);
  t.is(listed(server).n, 0);
  await new Promise((r) => setTimeout(r, 50));
  t.deepEqual(await storedBlobs(server), []);
  t.is(await stagedBlobs(server), 0);
});

test('a truncated upload (the client goes away mid-body) leaves nothing listed', async (t) => {
  const server = await startServer(t);
  const w = await modelWorld(t, server);
  const full = bytes(2_000_000);
  await new Promise<void>((resolve) => {
    const req = https.request(`${server.url}/api/v1/models/${w.modelId}/packets?base=0`, {
      method: 'POST',
      ca: server.ca,
      headers: { authorization: `Bearer ${w.editor.token}`, 'content-type': 'application/octet-stream', 'content-length': String(full.length), 'content-digest': digestHeader(full) },
    });
    req.on('error', () => resolve());
    // More than one 1 MiB batch, so a staging file exists when the client goes.
    req.write(full.subarray(0, 1_500_000), () => setTimeout(() => req.destroy(), 50));
  });
  // The server may start its staging file after the client has gone (a loaded machine): wait until
  // one was seen and is gone again, or 10 s without one.
  const started = Date.now();
  let seen = false;
  while (Date.now() - started < 10_000) {
    const staged = await stagedBlobs(server);
    if (staged > 0) seen = true;
    else if (seen) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  t.is(listed(server).n, 0);
  t.is((await w.viewer.call('GET', `/api/v1/models/${w.modelId}`)).body['head'], 0);
  t.deepEqual(await storedBlobs(server), []);
  t.is(await stagedBlobs(server), 0);
});

test('baselines: seq must be the head; latest and by seq, with Range resume', async (t) => {
  const server = await startServer(t);
  const w = await modelWorld(t, server);
  const m = `/api/v1/models/${w.modelId}`;
  const snapshot = bytes(300_000);
  const up = await w.owner.call('POST', `${m}/baselines?seq=0`, { raw: snapshot, headers: { 'content-digest': digestHeader(snapshot) } });
  t.is(up.status, 201, JSON.stringify(up.body));
  t.like(up.body, { seq: 0, size: 300_000, digest: digestHeader(snapshot), author: w.owner.id });
  t.is((await w.owner.call('POST', `${m}/baselines?seq=0`, { raw: snapshot, headers: { 'content-digest': digestHeader(snapshot) } })).status, 409);
  t.is((await w.viewer.call('POST', `${m}/baselines?seq=0`, { raw: snapshot, headers: { 'content-digest': digestHeader(snapshot) } })).status, 403);
  await writeOut(w.editor, w.modelId, 0, bytes(100));
  const stale = await w.editor.call('POST', `${m}/baselines?seq=0`, { raw: snapshot, headers: { 'content-digest': digestHeader(snapshot) } });
  t.like(stale.body, { code: 'not_up_to_date', head: 1 });

  const latest = await w.viewer.call('GET', `${m}/baselines/latest`);
  t.deepEqual(latest.bytes, snapshot);
  t.is(latest.headers.get('modelshare-seq'), '0');
  const etag = latest.headers.get('etag')!;
  t.regex(etag, /^"[A-Za-z0-9_-]{43}"$/);
  // Resume after 123,456 bytes, as a client whose download broke off.
  const resumed = await w.viewer.call('GET', `${m}/baselines/0`, { headers: { range: 'bytes=123456-', 'if-range': etag } });
  t.is(resumed.status, 206);
  t.is(resumed.headers.get('content-range'), `bytes 123456-299999/300000`);
  t.deepEqual(resumed.bytes, snapshot.subarray(123_456));
  t.is(resumed.headers.get('repr-digest'), digestHeader(snapshot));
  t.is(resumed.headers.get('content-digest'), null);
  t.deepEqual((await w.viewer.call('GET', `${m}/baselines/0`, { headers: { range: 'bytes=-10' } })).bytes, snapshot.subarray(-10));
  const changed = await w.viewer.call('GET', `${m}/baselines/0`, { headers: { range: 'bytes=10-', 'if-range': '"stale"' } });
  t.is(changed.status, 200, 'a changed validator sends it all');
  const unsatisfiable = await w.viewer.call('GET', `${m}/baselines/0`, { headers: { range: 'bytes=400000-' } });
  t.is(unsatisfiable.status, 416);
  t.is(unsatisfiable.headers.get('content-range'), 'bytes */300000');
  const model = await w.viewer.call('GET', m);
  t.like(model.body['latest_baseline'], { seq: 0, size: 300_000 });
  const list = await w.viewer.call('GET', `${m}/baselines`);
  t.deepEqual((list.body['baselines'] as Record<string, unknown>[]).map((b) => b['seq']), [0]);
  t.is((await w.viewer.call('GET', `${m}/baselines/7`)).status, 404);
});

test('history pruned by retention answers 410 with the newest baseline to join from', async (t) => {
  const server = await startServer(t);
  const w = await modelWorld(t, server);
  const m = `/api/v1/models/${w.modelId}`;
  for (let i = 0; i < 3; i++) await writeOut(w.editor, w.modelId, i, bytes(1000));
  const snapshot = bytes(5000);
  t.is((await w.owner.call('POST', `${m}/baselines?seq=3`, { raw: snapshot, headers: { 'content-digest': digestHeader(snapshot) } })).status, 201);
  await writeOut(w.editor, w.modelId, 3, bytes(1000));
  t.is(await server.services.sharing.history.prune(w.modelId, 10), 3, 'only packets the newest baseline covers');
  const gone = await w.viewer.call('GET', `${m}/packets/2`);
  t.is(gone.status, 410);
  t.like(gone.body, { code: 'history_pruned', baseline: { seq: 3 } });
  t.is((await w.viewer.call('GET', `${m}/packets?after=0`)).status, 410);
  const joined = await w.viewer.call('GET', `${m}/packets?after=3`);
  t.deepEqual((joined.body['packets'] as Record<string, unknown>[]).map((p) => p['seq']), [4]);
  t.is(sha256((await w.viewer.call('GET', `${m}/baselines/latest`)).bytes).equals(sha256(snapshot)), true);
  void fs;
});
