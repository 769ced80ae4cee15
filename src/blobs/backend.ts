/**
 * Where the sealed bytes of blobs are kept. This is the one seam between the blob service and
 * storage: the file system (fs-backend.ts) and S3-compatible object storage (s3-backend.ts) implement
 * the same calls without touching anything above.
 */
import type { Readable } from 'node:stream';

export interface BlobWriter {
  /**
   * Appends bytes, in order; resolves when the storage has taken them (backpressure). Once it
   * resolves the caller writes into the same buffers again: a writer that keeps bytes past that
   * point keeps a copy of its own.
   */
  write(chunks: Buffer[]): Promise<void>;
  /** Makes the bytes durable and then visible under the blob's id (fsync, rename, directory fsync). */
  publish(): Promise<void>;
  /** Throws the bytes away. Safe to call after a failed write or publish. */
  abort(): Promise<void>;
  /** Which backend the bytes go to, when several are in play (a migration between them). */
  readonly location?: string;
}

/** Positional reads of one published blob into the caller's buffers (optional; see `openReader`). */
export interface BlobReader {
  /** Reads up to `target.length` bytes at `position` into `target`; resolves to how many (fewer only at the end). */
  readInto(position: number, target: Uint8Array): Promise<number>;
  close(): Promise<void>;
}

export interface BlobBackend {
  /** Starts a new blob; nothing exists under `id` until `publish` resolves. */
  create(id: string): Promise<BlobWriter>;
  /** The sealed bytes `[start, end)` of a published blob, in chunks of `chunkSize` where it can. */
  read(id: string, start: number, end: number, chunkSize?: number): Readable;
  /**
   * Optional: opens a published blob for positional reads straight into the caller's (shared)
   * buffers, saving a copy per byte on large downloads. Without it, or when it resolves to undefined,
   * `read` is used.
   */
  openReader?(id: string): Promise<BlobReader | undefined>;
  /** The stored (sealed) size of a published blob in bytes, or undefined when there is none. */
  size(id: string): Promise<number | undefined>;
  /** Removes a published blob; removing one that is gone is not an error. */
  remove(id: string): Promise<void>;
  /** Every published blob id, and how old it is, for the orphan sweep. */
  list(): AsyncIterable<{ id: string; modifiedMs: number }>;
  /** Throws away every unpublished write older than `olderThanMs`; returns how many. */
  clearStaging(olderThanMs: number): Promise<number>;
  /** Checks that the storage is usable (for `/readyz`). */
  check(): Promise<void>;
  /**
   * Called inside the transaction that commits blob `id`, written to `location`: whether it may be
   * committed now (absent: always). See blob-router.ts.
   */
  acceptsCommit?(id: string, location: string | undefined): boolean;
  /** Lets go of connections (the stores are closing). */
  close(): void;
}
