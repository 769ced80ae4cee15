/**
 * Backups: a consistent online copy of the database (SQLite's backup API, through better-sqlite3),
 * then every blob that copy refers to, into the backup store; and the pruning of old backups.
 *
 * Durability order of a backup: database copy fsynced → each new blob copied to staging, fsynced,
 * renamed (BlobBackend.publish) → manifest written to a temp file, fsynced, renamed, directory
 * fsynced. Only the rename of the manifest makes the backup exist, so a crash or kill at any point
 * before it leaves nothing that looks like a backup; the next run removes the leftovers.
 *
 * Consistency: blob files are durable before their catalog rows commit, and never change after,
 * so every row in the copy has its file. Purges that remove blob files share the backup's lease
 * (see jobs.ts), so none can remove a file the copy still refers to while a backup runs.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { BlobBackend } from '../blobs/backend.ts';
import { blobsInStore } from '../blobs/blob-service.ts';
import type { Clock } from '../clock.ts';
import { sealedSize } from '../crypto/stream-aead.ts';
import type { Db } from '../db/open.ts';
import type { Log } from '../log.ts';
import { backupsToKeep, type GfsPolicy } from './gfs.ts';
import type { Manifest } from './manifest.ts';
import { BackupError, BackupStore, databaseName, fsyncPath, hashFile, manifestName } from './store.ts';

export interface BackupDeps {
  db: Db;
  /** Where the live blobs are. */
  blobs: BlobBackend;
  store: BackupStore;
  clock: Clock;
  log: Log;
  serverVersion: string;
  /** The head of the audit log, read just before the copy starts (so the copy holds it). */
  auditHead: () => unknown;
  keep: GfsPolicy;
}

export interface BackupFigures {
  id: string;
  blobs: number;
  blob_bytes: number;
  copied_blobs: number;
  copied_bytes: number;
  database_bytes: number;
  removed_leftovers: number;
}

/** Blobs copied at once: enough to keep a disk or network mount busy (fsync latency overlaps), few enough to bound memory (a 1 MiB chunk each). */
const copyConcurrency = 8;
/** Pages per step of the online copy; between steps the server's own writes go on. */
const pagesPerStep = 4096;

function newBackupId(now: Date): string {
  return `${now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '')}-${crypto.randomBytes(3).toString('hex')}`;
}

/** Runs `work` over `items` with at most `limit` at once; stops starting new ones after a failure. */
export async function eachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const item = items[next++]!;
      try {
        await work(item);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  const results = await Promise.allSettled(Array.from({ length: Math.min(limit, items.length) }, worker));
  const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (rejected) throw rejected.reason;
}

export class BackupService {
  readonly #d: BackupDeps;

  constructor(deps: BackupDeps) {
    this.#d = deps;
  }

  get store(): BackupStore {
    return this.#d.store;
  }

  /** Takes a backup. Stops at the next blob when `signal` is aborted, leaving no backup. */
  async run(signal: AbortSignal = new AbortController().signal): Promise<BackupFigures> {
    const { store, log } = this.#d;
    const leftovers = await store.cleanLeftovers();
    const removed = leftovers.partial + leftovers.staging;
    if (removed > 0) log.info(leftovers, 'removed the leftovers of an interrupted backup');
    const created = this.#d.clock.now();
    const id = newBackupId(created);
    const dir = store.backupDir(id);
    await fsp.mkdir(dir, { mode: 0o700 });
    try {
      const copy = await this.#copyDatabase(path.join(dir, databaseName));
      signal.throwIfAborted();
      const previous = (await store.list()).at(-1);
      const known = new Map(previous?.blobs.map((b) => [b.id, b]) ?? []);
      const entries: Manifest['blobs'] = [];
      let copiedBlobs = 0;
      let copiedBytes = 0;
      await eachLimited(copy.blobs, copyConcurrency, async (blob) => {
        signal.throwIfAborted();
        const size = sealedSize(blob.size);
        const stored = known.get(blob.id);
        if (store.objects) {
          // Server-side: the bucket copies the object to the backup prefix; no byte comes here.
          if (stored?.size !== size || (await store.objects.copies.size(blob.id)) !== size) {
            if ((await store.objects.live.size(blob.id)) === undefined) throw new BackupError(`blob ${blob.id} is in the catalog but missing from the bucket`);
            await store.objects.live.copyTo(blob.id, store.objects.copies.keyOf(blob.id));
            const copied = await store.objects.copies.size(blob.id);
            if (copied !== size) throw new BackupError(`blob ${blob.id} was copied with ${copied} bytes, its catalog row says ${size}`);
            copiedBlobs++;
            copiedBytes += size;
          }
          entries.push({ id: blob.id, size });
          return;
        }
        const onDisk = await fsp.stat(store.blobPath(blob.id)).catch(() => undefined);
        if (stored && stored.size === size && onDisk?.size === size) {
          entries.push(stored);
          return;
        }
        entries.push({ id: blob.id, size, sha256: await this.#copyBlob(blob.id, size) });
        copiedBlobs++;
        copiedBytes += size;
      });
      signal.throwIfAborted();
      entries.sort((a, b) => (a.id < b.id ? -1 : 1));
      const manifest: Manifest = {
        format: 'modelshare-backup/1',
        id,
        created_at: created.toISOString(),
        completed_at: this.#d.clock.now().toISOString(),
        server_version: this.#d.serverVersion,
        schema_version: copy.schemaVersion,
        master_key_ids: copy.masterKeyIds,
        audit_head: copy.auditHead,
        database: { file: databaseName, size: copy.size, sha256: copy.sha256 },
        ...(store.objects ? { blob_store: 's3' as const } : {}),
        blobs: entries,
        stats: { blob_bytes: entries.reduce((n, b) => n + b.size, 0), copied_blobs: copiedBlobs, copied_bytes: copiedBytes },
      };
      // The commit point: temp file on disk, rename, directory entries on disk.
      const temp = path.join(dir, `${manifestName}.tmp`);
      const handle = await fsp.open(temp, 'wx', 0o600);
      try {
        await handle.writeFile(JSON.stringify(manifest, null, 1));
        await handle.sync();
      } finally {
        await handle.close();
      }
      await fsp.rename(temp, path.join(dir, manifestName));
      await fsyncPath(dir);
      await fsyncPath(path.dirname(dir));
      return {
        id,
        blobs: entries.length,
        blob_bytes: manifest.stats.blob_bytes,
        copied_blobs: copiedBlobs,
        copied_bytes: copiedBytes,
        database_bytes: copy.size,
        removed_leftovers: removed,
      };
    } catch (error) {
      // Best effort: the next run removes whatever this leaves, too.
      await fsp.rm(dir, { recursive: true, force: true }).catch(() => undefined);
      throw error;
    }
  }

  /** The online copy of the database, made a plain file (no WAL), fsynced, and what the backup needs from it. */
  async #copyDatabase(file: string) {
    const auditHead = this.#d.auditHead();
    let remaining = Number.POSITIVE_INFINITY;
    let restarted = false;
    await this.#d.db.backup(file, {
      progress: ({ remainingPages }) => {
        // Another process wrote meanwhile and the copy started over: finish in one step (a read
        // transaction, so a busy writer cannot keep restarting it).
        if (remainingPages > remaining) restarted = true;
        remaining = remainingPages;
        return restarted ? 0x7fffffff : pagesPerStep;
      },
    });
    const copy = new Database(file);
    let facts;
    try {
      copy.pragma('journal_mode = DELETE');
      facts = {
        // Inline blobs travel inside the database copy; the others are copied as files.
        blobs: blobsInStore(copy),
        schemaVersion: (copy.prepare('SELECT max(version) AS v FROM schema_migrations').get() as { v: number }).v,
        masterKeyIds: (copy.prepare('SELECT DISTINCT wrapping_key_id AS id FROM data_keys ORDER BY id').all() as { id: string }[]).map((r) => r.id),
      };
    } finally {
      copy.close();
    }
    await fsyncPath(file);
    return { ...facts, auditHead, ...(await hashFile(file)) };
  }

  /** Copies one sealed blob into the store, hashing it on the way; returns the SHA-256 (hex). */
  async #copyBlob(id: string, size: number): Promise<string> {
    const hash = crypto.createHash('sha256');
    const writer = await this.#d.store.blobs.create(id);
    try {
      let copied = 0;
      for await (const chunk of this.#d.blobs.read(id, 0, size)) {
        hash.update(chunk as Buffer);
        copied += (chunk as Buffer).length;
        await writer.write([chunk as Buffer]);
      }
      if (copied !== size) throw new BackupError(`blob ${id} in the data directory has ${copied} bytes, its catalog row says ${size}`);
      await writer.publish();
    } catch (error) {
      await writer.abort();
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new BackupError(`blob ${id} is in the catalog but its file is missing from the data directory`);
      throw error;
    }
    return hash.digest('hex');
  }

  /**
   * Applies the retention policy: removes the backups it does not keep, then every stored blob no
   * remaining backup refers to. Call only while holding the backup lease.
   */
  async prune(): Promise<{ kept: number; removed: string[]; removed_blobs: number; removed_bytes: number }> {
    const { store } = this.#d;
    await store.cleanLeftovers();
    const all = await store.list();
    const keep = backupsToKeep(all.map((m) => ({ id: m.id, createdAt: new Date(m.created_at) })), this.#d.keep);
    const removed = all.filter((m) => !keep.has(m.id)).map((m) => m.id);
    for (const id of removed) await store.remove(id);
    const referenced = new Set(all.filter((m) => keep.has(m.id)).flatMap((m) => m.blobs.map((b) => b.id)));
    let removedBlobs = 0;
    let removedBytes = 0;
    for await (const { id } of store.blobs.list()) {
      if (referenced.has(id)) continue;
      removedBytes += (await store.blobs.size(id)) ?? 0;
      await store.blobs.remove(id);
      removedBlobs++;
    }
    return { kept: keep.size, removed, removed_blobs: removedBlobs, removed_bytes: removedBytes };
  }
}
