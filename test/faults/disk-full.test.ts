/**
 * A full disk, for real: the blob directory is a small tmpfs (this needs root, as in the CI
 * container). Uploads that run out of space answer 507 and keep nothing; below the free-space floor
 * /readyz says degraded and uploads are refused; freeing space restores full service.
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { person, writeOut, type Caller } from '../helpers/people.ts';
import { startServer, type TestServer } from '../helpers/server.ts';
import { filesUnder, tmpDir } from '../helpers/tmp.ts';

function mountTmpfs(t: import('ava').ExecutionContext, dir: string, size: string): boolean {
  fs.mkdirSync(dir, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir], { stdio: 'ignore' });
  } catch {
    return false;
  }
  t.teardown(() => execFileSync('umount', ['-l', dir], { stdio: 'ignore' }));
  return true;
}

async function readyz(server: TestServer) {
  const res = await server.fetch(`${server.url}/readyz`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function sharedModel(t: import('ava').ExecutionContext, server: TestServer): Promise<{ owner: Caller; modelId: string }> {
  const owner = person(server, 'Olive');
  const created = await owner.call('POST', '/api/v1/models', { json: { name: 'Bridge' } });
  t.is(created.status, 201, JSON.stringify(created.body));
  return { owner, modelId: String(created.body['id']) };
}

const blobFiles = (server: TestServer) => filesUnder(path.join(server.dataDir, 'blobs'));

test('disk full: 507 insufficient_storage, nothing kept; below the floor /readyz is degraded; freed space serves again', async (t) => {
  const dataDir = tmpDir(t);
  const blobDir = path.join(dataDir, 'blobs');
  if (!mountTmpfs(t, blobDir, '1m')) {
    t.log('cannot mount a tmpfs here (not root): the full-disk test needs one');
    t.pass();
    return;
  }
  const server = await startServer(t, { MODELSHARE_DATA_DIR: dataDir, MODELSHARE_STORAGE_MIN_FREE_BYTES: '256KiB', MODELSHARE_STORAGE_CHECK_INTERVAL: '100ms' });
  const { owner, modelId } = await sharedModel(t, server);
  const first = crypto.randomBytes(600 * 1024);
  t.is((await writeOut(owner, modelId, 0, first)).status, 201);
  const before = blobFiles(server);

  // The disk fills up in the middle of the write: 507, and no staging file, blob file or row left.
  const tooBig = await writeOut(owner, modelId, 1, crypto.randomBytes(600 * 1024));
  t.is(tooBig.status, 507, JSON.stringify(tooBig.body));
  t.like(tooBig.body, { code: 'insufficient_storage', status: 507 });
  t.deepEqual(blobFiles(server), before, 'nothing partial is kept');
  t.is((server.stores.db.prepare('SELECT count(*) AS n FROM blobs').get() as { n: number }).n, 1);
  t.is((await owner.call('GET', `/api/v1/models/${modelId}`)).body['head'], 1);

  // Something else takes the space: under the floor, /readyz stays 200 but says degraded, uploads get 507.
  const filler = path.join(blobDir, 'filler');
  fs.writeFileSync(filler, Buffer.alloc(300 * 1024));
  const low = await readyz(server);
  t.is(low.status, 200);
  t.like(low.body, { status: 'degraded', checks: { storage: 'low_space' } });
  const refused = await writeOut(owner, modelId, 1, crypto.randomBytes(10));
  t.is(refused.status, 507);
  t.like(refused.body, { code: 'insufficient_storage' });
  // Reading still works for everyone.
  const read = await owner.call('GET', `/api/v1/models/${modelId}/packets/1`);
  t.is(read.status, 200);
  t.true(read.bytes.equals(first));
  t.true(server.logs.some((l) => l['level'] === 'error' && /free-space floor/.test(String(l['msg']))));

  // Space freed: full service again.
  fs.rmSync(filler);
  const ok = await readyz(server);
  t.like(ok.body, { status: 'ready', checks: { storage: 'ok' } });
  t.is((await writeOut(owner, modelId, 1, crypto.randomBytes(10))).status, 201);
});
