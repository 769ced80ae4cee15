/**
 * A SIGKILL at any point of a blob write leaves no visible blob and no partial file once the server
 * has started again; a blob whose write was acknowledged (committed) survives intact.
 */
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { eventually } from '../helpers/eventually.ts';
import { projectRoot, spawnServer } from '../helpers/spawn.ts';
import { openTestStores } from '../helpers/stores.ts';
import { filesUnder, tmpDir } from '../helpers/tmp.ts';

function startWriter(t: ExecutionContext, dataDir: string, digest: Buffer, hold = false) {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(projectRoot, 'test/fixtures/blob-writer.ts'), digest.toString('base64'), ...(hold ? ['--hold'] : [])],
    { env: { ...process.env, MODELSHARE_DATA_DIR: dataDir }, stdio: ['pipe', 'pipe', 'inherit'] },
  );
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString('utf8')));
  child.stdin.on('error', () => undefined);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  t.teardown(() => child.kill('SIGKILL'));
  return { child, output: () => output, exited };
}

/**
 * Restarts the real server on the data dir (its start-up sweep runs) and stops it again. It exits
 * cleanly and at once: its crypto workers, started when it began serving and never used, do not
 * keep it alive.
 */
async function restart(t: ExecutionContext, dataDir: string) {
  const server = await spawnServer(t, { MODELSHARE_DATA_DIR: dataDir });
  server.child.kill('SIGTERM');
  const timeout = new Promise((resolve) => setTimeout(() => resolve('still running 20 s after SIGTERM'), 20_000).unref());
  t.deepEqual(await Promise.race([server.exited, timeout]), { code: 0, signal: null });
}

test('SIGKILL in the middle of a large write leaves no visible blob and no file', async (t) => {
  const dataDir = tmpDir(t);
  const writer = startWriter(t, dataDir, crypto.randomBytes(32));
  // Feed 8 MiB, then keep the stream open (more is "coming") and kill once the staging file has grown.
  const part = crypto.randomBytes(8 * 1024 * 1024);
  writer.child.stdin.write(part);
  const staging = () => filesUnder(path.join(dataDir, 'blobs', 'staging'));
  await eventually(() => staging().length === 1 && fs.statSync(staging()[0]!).size > 4 * 1024 * 1024, 'the staging file to grow');
  writer.child.kill('SIGKILL');
  await writer.exited;
  await restart(t, dataDir);
  const { db, blobs } = openTestStores(t, {}, dataDir);
  t.deepEqual(db.prepare('SELECT count(*) AS n FROM blobs').get(), { n: 0 });
  t.deepEqual(filesUnder(path.join(dataDir, 'blobs')), []);
  t.deepEqual(await blobs.sweep(0), { staging: 0, orphans: 0 });
});

test('SIGKILL after the file is durable but before the commit leaves no visible blob, and the sweep removes the file', async (t) => {
  const dataDir = tmpDir(t);
  const data = crypto.randomBytes(3 * 1024 * 1024);
  const writer = startWriter(t, dataDir, crypto.createHash('sha256').update(data).digest(), true);
  writer.child.stdin.end(data);
  await eventually(() => writer.output().startsWith('staged '), 'the staged line');
  writer.child.kill('SIGKILL');
  await writer.exited;
  t.is(filesUnder(path.join(dataDir, 'blobs')).length, 1);
  await restart(t, dataDir);
  const { db } = openTestStores(t, {}, dataDir);
  t.deepEqual(db.prepare('SELECT count(*) AS n FROM blobs').get(), { n: 0 });
  t.deepEqual(filesUnder(path.join(dataDir, 'blobs')), []);
});

test('SIGKILL after the commit keeps the blob whole and digest-valid', async (t) => {
  const dataDir = tmpDir(t);
  const data = crypto.randomBytes(3 * 1024 * 1024 + 7);
  const digest = crypto.createHash('sha256').update(data).digest();
  const writer = startWriter(t, dataDir, digest);
  writer.child.stdin.end(data);
  await eventually(() => /committed ([0-9a-f]{32})/.test(writer.output()), 'the committed line');
  const id = /committed ([0-9a-f]{32})/.exec(writer.output())![1]!;
  writer.child.kill('SIGKILL');
  await writer.exited;
  await restart(t, dataDir);
  const { blobs } = openTestStores(t, {}, dataDir);
  const info = blobs.info(id)!;
  t.is(info.size, data.length);
  const hash = crypto.createHash('sha256');
  for await (const chunk of blobs.read(info)) hash.update(chunk as Buffer);
  t.deepEqual(hash.digest(), digest);
});
