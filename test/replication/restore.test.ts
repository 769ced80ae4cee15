/**
 * `restore --from-replica`: the latest point, a point in time, blobs missing from the blob storage
 * named, an existing database never overwritten; and `replication status` reading the running server.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import Database from 'better-sqlite3';
import { modelWorld } from '../helpers/models.ts';
import { writeOut } from '../helpers/people.ts';
import { startServer } from '../helpers/server.ts';
import { runCommand } from '../helpers/spawn.ts';
import { tmpDir } from '../helpers/tmp.ts';

async function until(what: string, probe: () => boolean, limitMs = 30_000): Promise<void> {
  const end = Date.now() + limitMs;
  while (!probe()) {
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function packetsIn(dbFile: string, modelId: string): number {
  const db = new Database(dbFile, { readonly: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM packets WHERE model_id = ?').get(modelId) as { n: number }).n;
  } finally {
    db.close();
  }
}

test('restore --from-replica: latest, --at a time, missing blobs named, an existing database refused; replication status', async (t) => {
  const target = tmpDir(t, 'modelshare-replica-');
  const env = { MODELSHARE_REPLICATION_ENABLED: 'true', MODELSHARE_REPLICATION_PATH: target, MODELSHARE_REPLICATION_SYNC_INTERVAL: '200ms', MODELSHARE_TLS_MODE: 'off' };
  const server = await startServer(t, env);
  const replication = server.services.replication!;
  t.teardown(() => replication.stop());
  const w = await modelWorld(t, server);
  t.is((await writeOut(w.editor, w.modelId, 0, crypto.randomBytes(5000))).status, 201);
  await until('the first write-out in the replica', () => replication.status().lag_seconds === 0 && replication.status().position !== null);
  // Litestream picks the point by the times its WAL segments were written (their files' mtimes): the
  // point asked for lies in the middle of a quiet gap of 1.5 s after the first write-out is shipped.
  await new Promise((r) => setTimeout(r, 750));
  const between = new Date();
  await new Promise((r) => setTimeout(r, 750));
  t.is((await writeOut(w.editor, w.modelId, 1, crypto.randomBytes(7000))).status, 201);
  await until('the second write-out in the replica', () => replication.status().lag_seconds === 0 && Date.parse(replication.status().recovery_point!) > between.getTime() + 500);

  const cli = { ...env, MODELSHARE_DATA_DIR: server.dataDir, MODELSHARE_DEMO_ENABLED: 'off' };
  const status = runCommand(['replication', 'status'], cli);
  t.is(status.code, 0, status.stdout + status.stderr);
  t.regex(status.stdout, /state: ok/);
  t.regex(status.stdout, /lag: \d+\.\d{3} s \(limit 30 s\)/);
  t.regex(status.stdout, /replica generations:\nname +generation/);

  const standby = (name: string) => {
    const dir = path.join(tmpDir(t), name);
    fs.mkdirSync(dir);
    // The blob storage both machines share.
    fs.symlinkSync(path.join(server.dataDir, 'blobs'), path.join(dir, 'blobs'));
    return dir;
  };
  const latest = standby('latest');
  const restored = runCommand(['restore', '--from-replica', '--data-dir', latest], cli);
  t.is(restored.code, 0, restored.stdout + restored.stderr);
  t.regex(restored.stdout, /all \d+ blobs the database references are in the blob storage/);
  t.is(packetsIn(path.join(latest, 'modelshare.db'), w.modelId), 2);
  t.is(fs.statSync(path.join(latest, 'modelshare.db')).mode & 0o777, 0o600);

  const again = runCommand(['restore', '--from-replica', '--data-dir', latest], cli);
  t.is(again.code, 1);
  t.regex(again.stderr, /modelshare\.db exists: restore only into a data directory without a database/);

  const earlier = standby('earlier');
  const atTime = runCommand(['restore', '--from-replica', '--at', between.toISOString(), '--data-dir', earlier], cli);
  t.is(atTime.code, 0, atTime.stdout + atTime.stderr);
  t.regex(atTime.stdout, /as it was at /);
  // Should it differ, the replica's files and their times say which side of the point each fell on.
  const replicaFiles = () => fs.readdirSync(target, { recursive: true }).map(String).filter((f) => fs.statSync(path.join(target, f)).isFile())
    .map((f) => `${fs.statSync(path.join(target, f)).mtime.toISOString()} ${f}`).sort().join('\n');
  t.is(packetsIn(path.join(earlier, 'modelshare.db'), w.modelId), 1, `restored at ${between.toISOString()}:\n${replicaFiles()}`);

  const bad = runCommand(['restore', '--from-replica', '--at', 'yesterday', '--data-dir', standby('bad')], cli);
  t.is(bad.code, 2);

  // A blob the database references is gone from the shared storage: named, exit 1.
  const db = new Database(path.join(latest, 'modelshare.db'), { readonly: true });
  const blobId = (db.prepare('SELECT blob_id FROM packets WHERE model_id = ? AND seq = 2').get(w.modelId) as { blob_id: string }).blob_id;
  db.close();
  fs.rmSync(path.join(server.dataDir, 'blobs', blobId.slice(0, 2), blobId));
  const lost = standby('lost');
  const missing = runCommand(['restore', '--from-replica', '--data-dir', lost], cli);
  t.is(missing.code, 1, missing.stdout + missing.stderr);
  t.regex(missing.stdout, new RegExp(`MISSING: 1 of \\d+ blobs[^]*\\n  ${blobId}\\n`));
});
