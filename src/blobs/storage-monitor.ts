/**
 * Watches the data directory from outside the request path: that it is still there and still the
 * directory the server opened (an unmounted network share leaves an empty mount point behind, a
 * removed directory may be re-created empty), and how much space the blob storage has left.
 *
 * While the directory is not the one opened, every request but the health checks answers 503 and
 * nothing creates it again: writing into an empty mount point would put data on the wrong disk.
 * When the same directory comes back (the share is mounted again), service resumes by itself.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import { AppError } from '../errors.ts';
import type { Log } from '../log.ts';

export type StorageState = 'ok' | 'low_space' | 'missing';

export interface StorageStatus {
  state: StorageState;
  /** Bytes free for the server's user on the blob storage, when it could be measured. */
  freeBytes?: number | undefined;
}

export interface StorageMonitorOptions {
  dataDir: string;
  blobDir: string;
  /** Below this many free bytes, uploads are refused (507) and /readyz reports degraded; 0: no floor. */
  minFreeBytes: number;
  intervalMs: number;
  log: Log;
}

/** A file system error that means the storage is full (or the user's quota is). */
export function isNoSpace(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT' || code === 'SQLITE_FULL';
}

/** How long, and how far above the floor, a finding of room to spare is trusted for new uploads. */
const reuseMs = 1000;
const reuseMargin = 256 * 1024 * 1024;

export class StorageMonitor {
  readonly #o: StorageMonitorOptions;
  readonly #identity: { dev: number; ino: number };
  #status: StorageStatus = { state: 'ok' };
  #timer: NodeJS.Timeout | undefined;
  #running = false;
  #checking: Promise<StorageStatus> | undefined;
  /** When the last measurement began (performance.now()). */
  #measuredAt = Number.NEGATIVE_INFINITY;

  constructor(options: StorageMonitorOptions) {
    this.#o = options;
    const stat = fs.statSync(options.dataDir);
    this.#identity = { dev: stat.dev, ino: stat.ino };
  }

  /** Checks now and then every `intervalMs` (one check at a time, never a busy loop). */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    const tick = async () => {
      await this.check();
      if (!this.#running) return;
      this.#timer = setTimeout(() => void tick(), this.#o.intervalMs);
      this.#timer.unref();
    };
    void tick();
  }

  stop(): void {
    this.#running = false;
    clearTimeout(this.#timer);
  }

  /** The state of the last check. */
  status(): StorageStatus {
    return this.#status;
  }

  /**
   * Looks at the storage now, records what it found and logs a change of state. Callers at the same
   * moment (many uploads starting together) share one look instead of a stat and statfs each.
   */
  check(): Promise<StorageStatus> {
    this.#checking ??= this.#check().finally(() => (this.#checking = undefined));
    return this.#checking;
  }

  async #check(): Promise<StorageStatus> {
    const next = await this.#measure();
    const before = this.#status.state;
    this.#status = next;
    if (next.state !== before) {
      const where = { data_dir: this.#o.dataDir, free_bytes: next.freeBytes, min_free_bytes: this.#o.minFreeBytes };
      if (next.state === 'missing') {
        this.#o.log.error(where, 'the data directory is gone or is not the one the server opened (unmounted share? removed?): ' +
          'requests answer 503 until the same directory is back; if it was removed, restore it from a backup and restart');
      } else if (next.state === 'low_space') {
        this.#o.log.error(where, 'the blob storage is below its free-space floor (storage.min_free_bytes): uploads answer 507 until space is freed');
      } else {
        this.#o.log.info(where, 'the data directory is back to full service');
      }
    }
    return next;
  }

  async #measure(): Promise<StorageStatus> {
    this.#measuredAt = performance.now();
    try {
      const stat = await fsp.stat(this.#o.dataDir);
      if (stat.dev !== this.#identity.dev || stat.ino !== this.#identity.ino) return { state: 'missing' };
      const fsStat = await fsp.statfs(this.#o.blobDir);
      const freeBytes = fsStat.bavail * fsStat.bsize;
      return { state: freeBytes < this.#o.minFreeBytes ? 'low_space' : 'ok', freeBytes };
    } catch {
      return { state: 'missing' };
    }
  }

  /** Refuses a request while the data directory is not there (checked in the background). */
  assertServing(): void {
    if (this.#status.state === 'missing') {
      throw new AppError('service_unavailable', 'The server cannot reach its data right now; try again later', { headers: { 'Retry-After': '30' } });
    }
  }

  /**
   * Refuses a new upload when the storage is gone or below its floor. Checked now, unless a check of
   * the last second (and of less than `intervalMs`) found the storage there with room to spare
   * (`reuseMargin` above the floor): a stat and a statfs on the thread pool for every write-out
   * cost more than they tell then. Near the floor, or after any other finding, every upload looks
   * again. (A disk that fills during the write still answers 507: see BlobService.put.)
   */
  async assertWritable(): Promise<void> {
    const last = this.#status;
    const recent = performance.now() - this.#measuredAt < Math.min(reuseMs, this.#o.intervalMs);
    const roomy = last.state === 'ok' && last.freeBytes !== undefined && last.freeBytes - this.#o.minFreeBytes >= reuseMargin;
    const status = recent && roomy ? last : await this.check();
    if (status.state === 'missing') this.assertServing();
    if (status.state === 'low_space') {
      throw new AppError('insufficient_storage', 'The server is low on storage space; try again once an administrator has freed some');
    }
  }
}
