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

export class StorageMonitor {
  readonly #o: StorageMonitorOptions;
  readonly #identity: { dev: number; ino: number };
  #status: StorageStatus = { state: 'ok' };
  #timer: NodeJS.Timeout | undefined;
  #running = false;

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

  /** Looks at the storage now, records what it found and logs a change of state. */
  async check(): Promise<StorageStatus> {
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

  /** Refuses a new upload when the storage is gone or below its floor (checked now: cheap, and exact). */
  async assertWritable(): Promise<void> {
    const status = await this.check();
    if (status.state === 'missing') this.assertServing();
    if (status.state === 'low_space') {
      throw new AppError('insufficient_storage', 'The server is low on storage space; try again once an administrator has freed some');
    }
  }
}
