/**
 * The start-up sweep of blob leftovers (issue 20): it runs after the server serves, not before (a
 * million blob files must not hold the start), and, running beside requests, it removes only files
 * written before the process started that no row names: never a file a request of this run is
 * writing or about to commit.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { sweepLeftovers } from '../../src/blobs/leftover-sweep.ts';
import { eventually } from '../helpers/eventually.ts';
import { spawnServer } from '../helpers/spawn.ts';
import { openTestStores } from '../helpers/stores.ts';
import { tmpDir } from '../helpers/tmp.ts';

/** Writes a file in the blob directory, last modified `ageMs` ago. */
function plant(dataDir: string, where: 'published' | 'staging', ageMs: number): string {
  const id = crypto.randomBytes(16).toString('hex');
  const file = where === 'staging' ? path.join(dataDir, 'blobs', 'staging', id) : path.join(dataDir, 'blobs', id.slice(0, 2), id);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, 'sealed bytes');
  const at = new Date(Date.now() - ageMs);
  fs.utimesSync(file, at, at);
  return file;
}

test('the sweep removes only leftovers older than the start: not a committed blob, nor a file of this run', async (t) => {
  const { db, keys, blobs, blobBackend, dataDir } = openTestStores(t);
  const oldOrphan = plant(dataDir, 'published', 3_600_000);
  const oldStaging = plant(dataDir, 'staging', 3_600_000);
  const committed = plant(dataDir, 'published', 3_600_000);
  db.prepare('INSERT INTO blobs (id, data_key_id, size, sha256, created_at) VALUES (?, ?, 12, ?, ?)').run(path.basename(committed), keys.create('model'), Buffer.alloc(32), new Date().toISOString());
  const startedAt = Date.now() - 60_000;
  // Written after the start, without a row yet: a request of this run, about to commit.
  const newPublished = plant(dataDir, 'published', 1_000);
  const newStaging = plant(dataDir, 'staging', 1_000);

  const result = await sweepLeftovers(blobs, blobBackend, startedAt).done;
  t.deepEqual(result, { staging: 1, orphans: 1, stopped: false });
  t.false(fs.existsSync(oldOrphan));
  t.false(fs.existsSync(oldStaging));
  t.true(fs.existsSync(committed), 'a committed blob stays');
  t.true(fs.existsSync(newPublished), 'a file of this run stays');
  t.true(fs.existsSync(newStaging), 'a staging file of this run stays');
});

test('the server serves first and sweeps the leftovers of an earlier run after', async (t) => {
  const dataDir = tmpDir(t);
  const orphans = Array.from({ length: 3 }, () => plant(dataDir, 'published', 3_600_000));
  const server = await spawnServer(t, { MODELSHARE_DATA_DIR: dataDir, MODELSHARE_LOG_LEVEL: 'info' });
  await eventually(() => server.output().includes('removed blob leftovers of an earlier run'), 'the sweep to report');
  const lines = server.output().split('\n');
  const serving = lines.findIndex((l) => l.includes('modelshare is serving'));
  const swept = lines.findIndex((l) => l.includes('removed blob leftovers of an earlier run'));
  t.true(serving >= 0 && serving < swept, 'serving is announced before the sweep ends');
  t.like(JSON.parse(lines[swept]!), { orphans: 3 });
  for (const file of orphans) t.false(fs.existsSync(file));
  server.child.kill('SIGTERM');
  t.like(await server.exited, { code: 0 });
});
