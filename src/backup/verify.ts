/**
 * Verifies one backup offline: the manifest, the size and SHA-256 of every file, SQLite's
 * integrity_check on the database copy, that every blob row of the copy is in the manifest, and,
 * given the master keys, that every data key opens and every segment of every blob authenticates
 * (and the plaintext matches its catalog digest). Each damaged or missing file is named.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { BlobService, blobsInStore } from '../blobs/blob-service.ts';
import { Keyring } from '../crypto/keyring.ts';
import type { MasterKeySource } from '../crypto/master-keys.ts';
import { eachLimited } from './backup-service.ts';
import type { Manifest } from './manifest.ts';
import { databaseName, hashFile, type BackupStore } from './store.ts';

export interface Problem {
  /** The file, relative to the backup directory (the store). */
  file: string;
  problem: string;
}

export interface VerifyReport {
  id: string;
  ok: boolean;
  blobs: number;
  bytes: number;
  /** Whether the blobs were opened with the master keys (else only digests were checked). */
  decrypted: boolean;
  problems: Problem[];
}

/** Compares a file with its manifest entry; returns what is wrong, or undefined. */
export async function checkFile(file: string, expected: { size: number; sha256: string }): Promise<string | undefined> {
  const found = await hashFile(file).catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? 'missing' : `unreadable (${error.code ?? error.message})`));
  if (typeof found === 'string') return found;
  if (found.size !== expected.size) return `damaged: ${found.size} bytes, the manifest says ${expected.size}`;
  if (found.sha256 !== expected.sha256) return 'damaged: its SHA-256 differs from the manifest';
  return undefined;
}

/** A blob copy against its manifest entry: the file's size and SHA-256, or the size of an S3 copy. */
async function checkBlob(store: BackupStore, manifest: Manifest, blob: Manifest['blobs'][number]): Promise<string | undefined> {
  if (manifest.blob_store === 's3' || blob.sha256 === undefined) {
    if (!store.objects) return 'kept in S3 (storage.backend s3), but this configuration has no S3 storage to check it in';
    const size = await store.objects.copies.size(blob.id);
    if (size === undefined) return 'missing';
    return size === blob.size ? undefined : `damaged: ${size} bytes, the manifest says ${blob.size}`;
  }
  return checkFile(store.blobPath(blob.id), { size: blob.size, sha256: blob.sha256 });
}

export async function verifyBackup(store: BackupStore, id: string, masterKeys?: MasterKeySource): Promise<VerifyReport> {
  const problems: Problem[] = [];
  const rel = (file: string) => path.relative(store.dir, file);
  const dir = store.backupDir(id);
  let manifest: Manifest;
  try {
    manifest = await store.readManifest(id);
  } catch (error) {
    return { id, ok: false, blobs: 0, bytes: 0, decrypted: false, problems: [{ file: rel(path.join(dir, 'manifest.json')), problem: (error as Error).message }] };
  }
  const dbFile = path.join(dir, databaseName);
  const dbProblem = await checkFile(dbFile, manifest.database);
  if (dbProblem) problems.push({ file: rel(dbFile), problem: dbProblem });
  const damagedBlobs = new Set<string>();
  await eachLimited(manifest.blobs, 4, async (blob) => {
    const problem = await checkBlob(store, manifest, blob);
    if (problem) {
      damagedBlobs.add(blob.id);
      problems.push({ file: store.blobName(blob.id), problem });
    }
  });
  let decrypted = false;
  if (dbProblem !== 'missing') {
    let copy: Database.Database | undefined;
    try {
      copy = new Database(dbFile, { readonly: true, fileMustExist: true });
      const integrity = (copy.pragma('integrity_check') as { integrity_check: string }[]).map((r) => r.integrity_check);
      if (integrity.join() !== 'ok') problems.push({ file: rel(dbFile), problem: `integrity_check: ${integrity.slice(0, 5).join('; ')}` });
      const listed = new Set(manifest.blobs.map((b) => b.id));
      const rows = blobsInStore(copy);
      for (const row of rows) if (!listed.has(row.id)) problems.push({ file: store.blobName(row.id), problem: 'in the database copy but not in the manifest' });
      if (masterKeys) {
        decrypted = true;
        await decryptAll(store, copy, masterKeys, damagedBlobs, problems, rel, rel(dbFile));
      }
    } catch (error) {
      problems.push({ file: rel(dbFile), problem: `cannot be read as a database (${(error as Error).message})` });
    } finally {
      copy?.close();
    }
  }
  problems.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  return { id, ok: problems.length === 0, blobs: manifest.blobs.length, bytes: manifest.stats.blob_bytes + manifest.database.size, decrypted, problems };
}

/** Opens every data key and every segment of every intact blob, comparing the plaintext with its catalog digest. */
async function decryptAll(store: BackupStore, copy: Database.Database, masterKeys: MasterKeySource, skip: Set<string>, problems: Problem[], rel: (f: string) => string, dbName: string) {
  const keys = new Keyring(copy, masterKeys);
  const badKeys = new Set<string>();
  for (const { id, wrapping_key_id } of copy.prepare('SELECT id, wrapping_key_id FROM data_keys').all() as { id: string; wrapping_key_id: string }[]) {
    try {
      keys.get(id);
    } catch (error) {
      badKeys.add(id);
      problems.push({ file: dbName, problem: `data key ${id} does not open with master key ${wrapping_key_id}: ${(error as Error).message}` });
    }
  }
  const blobs = new BlobService(copy, keys, store.blobs);
  // Inline blobs are inside the database copy; a damaged one is named as part of that file.
  const infos = (copy.prepare('SELECT id FROM blobs ORDER BY id').all() as { id: string }[]).map((r) => blobs.info(r.id)!);
  const checked = infos.filter((info) => info.inline || (!skip.has(info.id) && (store.objects !== undefined || fs.existsSync(store.blobPath(info.id)))));
  await eachLimited(checked, 2, async (info) => {
    if (badKeys.has(info.dataKeyId)) return;
    const where = info.inline ? { file: dbName, what: `inline blob ${info.id} ` } : { file: store.blobName(info.id), what: '' };
    const hash = crypto.createHash('sha256');
    try {
      for await (const chunk of blobs.read(info)) hash.update(chunk as Buffer);
      if (!hash.digest().equals(info.digests['sha-256'])) problems.push({ file: where.file, problem: `${where.what}opens, but its content differs from the catalog digest` });
    } catch (error) {
      problems.push({ file: where.file, problem: `${where.what}does not decrypt: ${(error as Error).message}` });
    }
  });
}
