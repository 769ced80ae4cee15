/**
 * Restore: one backup into an empty data directory, checking the SHA-256 of every file as it is
 * copied, then SQLite's integrity_check and, given the master keys, that every data key opens. A
 * restore that fails part-way removes what it wrote; the directory is left as empty as it was.
 * The master key is never in a backup: the restored server reads it from the kept key file.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import Database from 'better-sqlite3';
import { blobsInStore } from '../blobs/blob-service.ts';
import { fsBackend } from '../blobs/fs-backend.ts';
import { Keyring } from '../crypto/keyring.ts';
import type { MasterKeySource } from '../crypto/master-keys.ts';
import { readMigrations } from '../db/migrate.ts';
import { eachLimited } from './backup-service.ts';
import { BackupError, databaseName, fsyncPath, type BackupStore } from './store.ts';

export interface RestoreReport {
  id: string;
  target: string;
  blobs: number;
  bytes: number;
  /** Whether the data keys were opened with the configured master keys. */
  keysChecked: boolean;
  masterKeyIds: string[];
}

function assertEmptyTarget(target: string): void {
  if (!fs.existsSync(target)) return;
  if (!fs.statSync(target).isDirectory()) throw new BackupError(`${target} is not a directory`);
  if (fs.readdirSync(target).length > 0) throw new BackupError(`${target} is not empty: restore only into an empty or new directory, so nothing is overwritten`);
}

export async function restoreBackup(store: BackupStore, id: string, targetDir: string, masterKeys?: MasterKeySource): Promise<RestoreReport> {
  const target = path.resolve(targetDir);
  assertEmptyTarget(target);
  const manifest = await store.readManifest(id);
  const known = Math.max(...readMigrations().map((m) => m.version));
  if (manifest.schema_version > known) {
    throw new BackupError(`backup ${id} was written by a newer server (${manifest.server_version}, schema ${manifest.schema_version}); restore it with that version or later`);
  }
  if (masterKeys) {
    const have = new Set(masterKeys.current().map((k) => k.id));
    const missing = manifest.master_key_ids.filter((k) => !have.has(k));
    if (missing.length > 0) throw new BackupError(`backup ${id} needs master key(s) ${missing.join(', ')}, which ${masterKeys.description} does not hold; use the key file kept from that server`);
  }
  fs.mkdirSync(target, { recursive: true, mode: 0o700 });
  try {
    const dbFile = path.join(target, databaseName);
    await copyChecked(path.join(store.backupDir(id), databaseName), `${dbFile}.restoring`, manifest.database, `backups/${id}/${databaseName}`);
    await fsp.rename(`${dbFile}.restoring`, dbFile);
    if (manifest.blob_store === 's3') {
      // Server-side copies back to the live keys; the bytes stay in the object store.
      const objects = store.objects;
      if (!objects) throw new BackupError(`backup ${id} keeps its blobs in S3: restore it with the configuration that has storage.backend s3 and its storage.s3 settings`);
      await eachLimited(manifest.blobs, 8, async (blob) => {
        const size = await objects.copies.size(blob.id);
        if (size === undefined) throw new BackupError(`${store.blobName(blob.id)} is missing from the backup store`);
        if (size !== blob.size) throw new BackupError(`${store.blobName(blob.id)} in the backup is damaged: its size differs from the manifest`);
        await objects.live.copyFrom(objects.copies.keyOf(blob.id), blob.id);
        if ((await objects.live.size(blob.id)) !== blob.size) throw new BackupError(`blob ${blob.id} did not copy back whole`);
      });
    }
    const backend = fsBackend(path.join(target, 'blobs'));
    await eachLimited(manifest.blob_store === 's3' ? [] : manifest.blobs, 4, async (blob) => {
      const writer = await backend.create(blob.id);
      try {
        const hash = crypto.createHash('sha256');
        let size = 0;
        for await (const chunk of fs.createReadStream(store.blobPath(blob.id), { highWaterMark: 1024 * 1024 })) {
          hash.update(chunk as Buffer);
          size += (chunk as Buffer).length;
          await writer.write([chunk as Buffer]);
        }
        if (size !== blob.size || hash.digest('hex') !== blob.sha256) throw new BackupError(`blobs/${blob.id.slice(0, 2)}/${blob.id} in the backup is damaged: its size or SHA-256 differs from the manifest`);
        await writer.publish();
      } catch (error) {
        await writer.abort();
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new BackupError(`blobs/${blob.id.slice(0, 2)}/${blob.id} is missing from the backup store`);
        throw error;
      }
    });
    const db = new Database(dbFile);
    try {
      checkRestoredDatabase(db, masterKeys);
      const listed = new Set(manifest.blobs.map((b) => b.id));
      const unlisted = blobsInStore(db).find((r) => !listed.has(r.id));
      if (unlisted) throw new BackupError(`blob ${unlisted.id} is in the database but not in the backup`);
    } finally {
      db.close();
    }
    await fsyncPath(target);
    return { id, target, blobs: manifest.blobs.length, bytes: manifest.stats.blob_bytes + manifest.database.size, keysChecked: masterKeys !== undefined, masterKeyIds: manifest.master_key_ids };
  } catch (error) {
    // Leave the directory as empty as it was found.
    for (const name of fs.readdirSync(target)) await fsp.rm(path.join(target, name), { recursive: true, force: true });
    throw error;
  }
}

/**
 * The checks every restored database passes before a server may start on it (a backup's or a
 * replica's): SQLite's integrity_check, a schema this server knows, and, given the master keys, that
 * every data key opens with them.
 */
export function checkRestoredDatabase(db: Database.Database, masterKeys?: MasterKeySource): void {
  const integrity = (db.pragma('integrity_check') as { integrity_check: string }[]).map((r) => r.integrity_check);
  if (integrity.join() !== 'ok') throw new BackupError(`the restored database fails integrity_check: ${integrity.slice(0, 3).join('; ')}`);
  const known = Math.max(...readMigrations().map((m) => m.version));
  const newest = (db.prepare('SELECT max(version) AS v FROM schema_migrations').get() as { v: number | null }).v ?? 0;
  if (newest > known) throw new BackupError(`the restored database has schema ${newest}, newer than this server knows (${known}); start it with that version or later`);
  if (masterKeys) {
    const keys = new Keyring(db, masterKeys);
    for (const { id: keyId } of db.prepare('SELECT id FROM data_keys').all() as { id: string }[]) keys.get(keyId);
  }
}

async function copyChecked(from: string, to: string, expected: { size: number; sha256: string }, name: string): Promise<void> {
  const hash = crypto.createHash('sha256');
  let size = 0;
  const handle = await fsp.open(to, 'wx', 0o600);
  try {
    for await (const chunk of fs.createReadStream(from, { highWaterMark: 1024 * 1024 })) {
      hash.update(chunk as Buffer);
      size += (chunk as Buffer).length;
      await handle.write(chunk as Buffer);
    }
    await handle.sync();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new BackupError(`${name} is missing from the backup store`);
    throw error;
  } finally {
    await handle.close();
  }
  if (size !== expected.size || hash.digest('hex') !== expected.sha256) throw new BackupError(`${name} in the backup is damaged: its size or SHA-256 differs from the manifest`);
}
