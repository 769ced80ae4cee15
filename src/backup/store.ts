/**
 * The backup store: a directory (local disk or network mount) that holds every backup.
 *
 *   <dir>/blobs/<xx>/<id>                 sealed blob files, shared by every backup that needs them
 *   <dir>/blobs/staging/<id>              a blob being copied (leftovers are removed by the next run)
 *   <dir>/backups/<ID>/modelshare.db      the consistent copy of the database
 *   <dir>/backups/<ID>/manifest.json      written last: a backup exists once its manifest does
 *
 * Blob files are immutable once published, so a backup copies only blobs the store lacks.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { fsBackend } from '../blobs/fs-backend.ts';
import type { BlobBackend } from '../blobs/backend.ts';
import type { BackupObjectStore } from './object-store.ts';
import { parseManifest, type Manifest } from './manifest.ts';

export class BackupError extends Error {
  override name = 'BackupError';
}

export const manifestName = 'manifest.json';
export const databaseName = 'modelshare.db';
const idPattern = /^\d{8}T\d{6}Z-[0-9a-f]{6}$/;

export function isBackupId(id: string): boolean {
  return idPattern.test(id);
}

/** Checks the configured directory: it exists, is a directory, is writable, and is not inside the data directory (or it inside the store). */
export function checkBackupDir(dir: string, dataDir: string): void {
  const resolved = path.resolve(dir);
  const data = path.resolve(dataDir);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(resolved);
  } catch {
    throw new BackupError(`backup.dir: ${resolved} does not exist (create it, or mount the backup volume there)`);
  }
  if (!stat.isDirectory()) throw new BackupError(`backup.dir: ${resolved} is not a directory`);
  const real = fs.realpathSync(resolved);
  const realData = fs.existsSync(data) ? fs.realpathSync(data) : data;
  const inside = (a: string, b: string) => a === b || a.startsWith(b + path.sep);
  if (inside(real, realData) || inside(realData, real)) {
    throw new BackupError(`backup.dir: ${resolved} must lie outside data_dir (${data}): a backup on the same disk is lost with it`);
  }
  try {
    fs.accessSync(resolved, fs.constants.W_OK);
  } catch {
    throw new BackupError(`backup.dir: ${resolved} is not writable by this user`);
  }
}

export async function fsyncPath(target: string): Promise<void> {
  const handle = await fsp.open(target, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** One backup store directory. */
/** Size and SHA-256 (hex) of a file, streamed in 1 MiB reads: what a manifest records and verify checks. */
export async function hashFile(file: string): Promise<{ size: number; sha256: string }> {
  const hash = crypto.createHash('sha256');
  let size = 0;
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1024 * 1024 })) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { size, sha256: hash.digest('hex') };
}

export class BackupStore {
  readonly dir: string;
  readonly blobs: BlobBackend;
  /** With blobs in S3: the copies live in the bucket (object-store.ts), not under `dir`. */
  readonly objects: BackupObjectStore | undefined;

  constructor(dir: string, objects?: BackupObjectStore) {
    this.dir = path.resolve(dir);
    fs.mkdirSync(path.join(this.dir, 'backups'), { recursive: true, mode: 0o700 });
    this.objects = objects;
    this.blobs = objects ? objects.copies : fsBackend(path.join(this.dir, 'blobs'));
  }

  /** Where a blob's copy is, for messages: a file under the store, or an object key. */
  blobName(id: string): string {
    return this.objects ? `s3:${this.objects.copies.bucket}/${this.objects.copies.keyOf(id)}` : path.relative(this.dir, this.blobPath(id));
  }

  backupDir(id: string): string {
    if (!isBackupId(id)) throw new BackupError(`"${id}" is not a backup id (they look like 20260101T020000Z-a1b2c3)`);
    return path.join(this.dir, 'backups', id);
  }

  blobPath(id: string): string {
    return path.join(this.dir, 'blobs', id.slice(0, 2), id);
  }

  /** Every complete backup (one with a manifest), oldest first. */
  async list(): Promise<Manifest[]> {
    const out: Manifest[] = [];
    for (const name of (await fsp.readdir(path.join(this.dir, 'backups'))).sort()) {
      if (!isBackupId(name)) continue;
      const manifest = await this.readManifest(name).catch(() => undefined);
      if (manifest) out.push(manifest);
    }
    return out;
  }

  async readManifest(id: string): Promise<Manifest> {
    const file = path.join(this.backupDir(id), manifestName);
    let text: string;
    try {
      text = await fsp.readFile(file, 'utf8');
    } catch {
      throw new BackupError(`there is no backup ${id} in ${this.dir}`);
    }
    return parseManifest(text, id);
  }

  /**
   * Removes what an interrupted run left: backup directories without a manifest, temp manifests and
   * blob copies still in staging. Call only while holding the backup lease.
   */
  async cleanLeftovers(): Promise<{ partial: number; staging: number }> {
    let partial = 0;
    for (const name of await fsp.readdir(path.join(this.dir, 'backups'))) {
      const dir = path.join(this.dir, 'backups', name);
      if (isBackupId(name) && fs.existsSync(path.join(dir, manifestName))) continue;
      await fsp.rm(dir, { recursive: true, force: true });
      partial++;
    }
    return { partial, staging: await this.blobs.clearStaging(0) };
  }

  /** Makes a backup invisible (its manifest goes first), then removes its directory. */
  async remove(id: string): Promise<void> {
    const dir = this.backupDir(id);
    await fsp.rm(path.join(dir, manifestName), { force: true });
    await fsyncPath(dir);
    await fsp.rm(dir, { recursive: true, force: true });
  }
}
