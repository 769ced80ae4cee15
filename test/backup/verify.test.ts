/** Verify finds one changed byte anywhere in a backup and names the file; the command says so with exit code 1. */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import test from 'ava';
import { verifyBackup } from '../../src/backup/verify.ts';
import { modelWorld } from '../helpers/models.ts';
import { writeOut } from '../helpers/people.ts';
import { startServer } from '../helpers/server.ts';
import { runCommand } from '../helpers/spawn.ts';
import { tmpDir } from '../helpers/tmp.ts';

function flipByte(file: string, at: number): void {
  const fd = fs.openSync(file, 'r+');
  const byte = Buffer.alloc(1);
  fs.readSync(fd, byte, 0, 1, at);
  byte[0]! ^= 0x01;
  fs.writeSync(fd, byte, 0, 1, at);
  fs.closeSync(fd);
}

async function backedUp(t: Parameters<typeof startServer>[0], packetBytes = 300_000) {
  const backupDir = tmpDir(t);
  const server = await startServer(t, { MODELSHARE_BACKUP_DIR: backupDir, MODELSHARE_STORAGE_INLINE_MAX_BYTES: '256KiB' });
  const w = await modelWorld(t, server);
  // 300,000 bytes: above storage.inline_max_bytes, so each packet is a blob file of the backup.
  for (let base = 0; base < 3; base++) t.is((await writeOut(w.editor, w.modelId, base, crypto.randomBytes(packetBytes))).status, 201);
  const backups = server.jobs.backups!;
  const backup = await backups.run();
  const manifest = await backups.store.readManifest(backup.id);
  return { server, backupDir, store: backups.store, id: backup.id, manifest };
}

test('one byte changed in a blob or in the database copy is found and the file named', async (t) => {
  const { server, backupDir, store, id, manifest } = await backedUp(t);
  t.like(await verifyBackup(store, id, server.stores.masterKeys), { ok: true, decrypted: true, blobs: 3, problems: [] });

  const blob = manifest.blobs[1]!;
  const blobFile = `blobs/${blob.id.slice(0, 2)}/${blob.id}`;
  flipByte(path.join(backupDir, blobFile), 70_000);
  const damaged = await verifyBackup(store, id, server.stores.masterKeys);
  t.false(damaged.ok);
  t.deepEqual(damaged.problems, [{ file: blobFile, problem: 'damaged: its SHA-256 differs from the manifest' }]);

  // The command names it too, and fails.
  const cli = runCommand(['backup', 'verify', id], { MODELSHARE_DATA_DIR: server.dataDir, MODELSHARE_BACKUP_DIR: backupDir });
  t.is(cli.code, 1, cli.stderr);
  t.regex(cli.stdout, new RegExp(`DAMAGED\\n  ${blobFile}: damaged`));
  flipByte(path.join(backupDir, blobFile), 70_000);

  const dbFile = `backups/${id}/modelshare.db`;
  flipByte(path.join(backupDir, dbFile), 5000);
  const dbDamaged = await verifyBackup(store, id);
  t.false(dbDamaged.ok);
  t.is(dbDamaged.problems[0]!.file, dbFile);
  t.regex(dbDamaged.problems[0]!.problem, /SHA-256 differs/);
});

test('with the master key, a blob changed together with its manifest digest still fails: its segment does not authenticate', async (t) => {
  const { server, backupDir, store, id, manifest } = await backedUp(t);
  const blob = manifest.blobs[0]!;
  const file = path.join(backupDir, 'blobs', blob.id.slice(0, 2), blob.id);
  flipByte(file, 100_000);
  // Whoever changed the file also fixed its digest in the manifest: only the AEAD can tell.
  const manifestFile = path.join(backupDir, 'backups', id, 'manifest.json');
  const json = JSON.parse(fs.readFileSync(manifestFile, 'utf8')) as { blobs: { id: string; sha256: string }[] };
  json.blobs.find((b) => b.id === blob.id)!.sha256 = crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
  fs.writeFileSync(manifestFile, JSON.stringify(json));
  t.like(await verifyBackup(store, id), { ok: true, decrypted: false }, 'without the key, digests are all there is');
  const report = await verifyBackup(store, id, server.stores.masterKeys);
  t.false(report.ok);
  t.is(report.problems.length, 1);
  t.is(report.problems[0]!.file, `blobs/${blob.id.slice(0, 2)}/${blob.id}`);
  t.regex(report.problems[0]!.problem, /does not decrypt: segment 1 does not open/);
});

test('with the master key, an inline blob changed inside the database copy (and its manifest digest fixed) fails and is named', async (t) => {
  const { server, backupDir, store, id, manifest } = await backedUp(t, 100_000);
  t.is(manifest.blobs.length, 0, 'small packets travel inside the database copy');
  t.like(await verifyBackup(store, id, server.stores.masterKeys), { ok: true, decrypted: true, problems: [] });
  const dbFile = path.join(backupDir, 'backups', id, 'modelshare.db');
  const copy = new Database(dbFile);
  const row = copy.prepare('SELECT blob_id, sealed FROM blob_inline ORDER BY blob_id LIMIT 1').get() as { blob_id: string; sealed: Buffer };
  row.sealed[70_000]! ^= 0x01;
  copy.prepare('UPDATE blob_inline SET sealed = ? WHERE blob_id = ?').run(row.sealed, row.blob_id);
  copy.close();
  const manifestFile = path.join(backupDir, 'backups', id, 'manifest.json');
  const json = JSON.parse(fs.readFileSync(manifestFile, 'utf8')) as { database: { size: number; sha256: string } };
  const bytes = fs.readFileSync(dbFile);
  json.database = { ...json.database, size: bytes.length, sha256: crypto.createHash('sha256').update(bytes).digest('hex') };
  fs.writeFileSync(manifestFile, JSON.stringify(json));
  t.like(await verifyBackup(store, id), { ok: true, decrypted: false }, 'without the key, digests are all there is');
  const report = await verifyBackup(store, id, server.stores.masterKeys);
  t.false(report.ok);
  t.deepEqual(report.problems.map((p) => p.file), [`backups/${id}/modelshare.db`]);
  t.regex(report.problems[0]!.problem, new RegExp(`inline blob ${row.blob_id} does not decrypt: segment 1 does not open`));
});
