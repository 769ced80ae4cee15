/**
 * A damaged blob file (a flipped byte, a truncation): the failure is logged as an error naming the
 * model and the blob, the blob is marked damaged, /readyz shows it, a later download answers a
 * problem document before any byte, and `modelshare blobs verify` finds and lists every damaged blob.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { headerSize, segmentSize, tagSize } from '../../src/crypto/stream-aead.ts';
import { person, writeOut } from '../helpers/people.ts';
import { startServer, type TestServer } from '../helpers/server.ts';
import { execFile } from 'node:child_process';
import { projectRoot } from '../helpers/spawn.ts';

/** `modelshare blobs verify` in its own process, without blocking this one (which serves). */
function verify(dataDir: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MODELSHARE_'))), MODELSHARE_DATA_DIR: dataDir };
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', path.join(projectRoot, 'src/main.ts'), 'blobs', 'verify'], { cwd: projectRoot, env }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

async function world(t: import('ava').ExecutionContext) {
  const server = await startServer(t, { MODELSHARE_STORAGE_INLINE_MAX_BYTES: '256KiB' });
  const owner = person(server, 'Olive');
  const created = await owner.call('POST', '/api/v1/models', { json: { name: 'Bridge' } });
  const modelId = String(created.body['id']);
  // Two blob files (above storage.inline_max_bytes) and one blob kept inline in the database.
  const packets = [crypto.randomBytes(4 * segmentSize + 100), crypto.randomBytes(300_000), crypto.randomBytes(3000)];
  for (const [i, bytes] of packets.entries()) t.is((await writeOut(owner, modelId, i, bytes)).status, 201);
  const blobFile = (seq: number) => {
    const { blob_id: id } = server.stores.db.prepare('SELECT blob_id FROM packets WHERE model_id = ? AND seq = ?').get(modelId, seq) as { blob_id: string };
    return { id, file: path.join(server.dataDir, 'blobs', id.slice(0, 2), id) };
  };
  return { server, owner, modelId, packets, blobFile };
}

async function readyz(server: TestServer) {
  const res = await server.fetch(`${server.url}/readyz`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const damageLogged = (server: TestServer, modelId: string, blobId: string) =>
  server.logs.some((l) => l['level'] === 'error' && l['model_id'] === modelId && l['blob_id'] === blobId && /damaged/.test(String(l['msg'])));

test('a flipped byte: logged with model and blob, marked, shown by /readyz, refused before any byte next time', async (t) => {
  const { server, owner, modelId, packets, blobFile } = await world(t);
  const { id, file } = blobFile(1);
  const sealed = fs.readFileSync(file);
  const flipped = Buffer.from(sealed);
  flipped[headerSize + (segmentSize + tagSize) * 2 + 10]! ^= 0x01;
  fs.writeFileSync(file, flipped);

  // The first download cannot know in advance: it breaks off mid-stream, and that is noticed.
  const res = await server.fetch(`${server.url}/api/v1/models/${modelId}/packets/1`, { headers: { authorization: `Bearer ${owner.token}` } });
  t.is(res.status, 200);
  await t.throwsAsync(res.arrayBuffer());
  t.true(damageLogged(server, modelId, id), 'an error naming the model and the blob');
  t.like(server.stores.db.prepare('SELECT reason FROM blob_damage WHERE blob_id = ?').get(id), { reason: 'unauthentic' });
  const ready = await readyz(server);
  t.is(ready.status, 200);
  t.like(ready.body, { status: 'degraded', checks: { blob_integrity: 'damaged' }, blob_integrity: { damaged_blobs: 1 } });

  // Later requests get a problem document, not a stream that breaks.
  const again = await owner.call('GET', `/api/v1/models/${modelId}/packets/1`, { headers: { range: 'bytes=0-9' } });
  t.is(again.status, 500);
  t.is(again.headers.get('content-type'), 'application/problem+json');
  t.like(again.body, { code: 'blob_damaged' });
  // Everything else is served.
  const other = await owner.call('GET', `/api/v1/models/${modelId}/packets/2`);
  t.is(other.status, 200);
  t.true(other.bytes.equals(packets[1]!));
});

test('a truncated blob is refused before any byte, on the first request', async (t) => {
  const { server, owner, modelId, blobFile } = await world(t);
  const { id, file } = blobFile(1);
  fs.truncateSync(file, fs.statSync(file).size - 5000);
  const res = await owner.call('GET', `/api/v1/models/${modelId}/packets/1`);
  t.is(res.status, 500);
  t.like(res.body, { code: 'blob_damaged' });
  t.true(damageLogged(server, modelId, id));
  t.like(server.stores.db.prepare('SELECT reason FROM blob_damage WHERE blob_id = ?').get(id), { reason: 'truncated' });
  t.like((await readyz(server)).body, { status: 'degraded', blob_integrity: { damaged_blobs: 1 } });
});

test('`modelshare blobs verify` lists every damaged blob, exits 1, and clears a blob restored from a backup', async (t) => {
  const { server, modelId, blobFile } = await world(t);
  const one = blobFile(1);
  const two = blobFile(2);
  const original = fs.readFileSync(one.file);
  const flipped = Buffer.from(original);
  flipped[flipped.length - 20]! ^= 0x80;
  fs.writeFileSync(one.file, flipped);
  fs.truncateSync(two.file, 100);
  // The inline one, changed where it is kept: inside the database.
  const db = server.stores.db;
  const three = db.prepare('SELECT blob_id AS id, sealed FROM packets JOIN blob_inline USING (blob_id) WHERE model_id = ? AND seq = 3').get(modelId) as { id: string; sealed: Buffer };
  three.sealed[100]! ^= 0x01;
  db.prepare('UPDATE blob_inline SET sealed = ? WHERE blob_id = ?').run(three.sealed, three.id);
  const found = await verify(server.dataDir);
  t.is(found.code, 1, found.stderr);
  t.regex(found.stdout, new RegExp(`DAMAGED  ${one.id}  unauthentic  model ${modelId} packet 1`));
  t.regex(found.stdout, new RegExp(`DAMAGED  ${two.id}  truncated  model ${modelId} packet 2`));
  t.regex(found.stdout, new RegExp(`DAMAGED  ${three.id}  unauthentic  model ${modelId} packet 3`));
  t.regex(found.stdout, /checked 3 blob\(s\): 3 damaged/);
  t.like((await readyz(server)).body, { status: 'degraded', blob_integrity: { damaged_blobs: 3 } });

  // Packet 1 is restored from a backup: verify clears its mark; packet 2 stays damaged.
  fs.writeFileSync(one.file, original);
  const after = await verify(server.dataDir);
  t.is(after.code, 1);
  t.notRegex(after.stdout, new RegExp(one.id));
  t.regex(after.stdout, /checked 3 blob\(s\): 2 damaged/);
  t.like((await readyz(server)).body, { blob_integrity: { damaged_blobs: 2 } });
});
