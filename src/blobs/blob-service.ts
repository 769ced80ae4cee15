/**
 * Blobs: the encrypted, digest-checked bytes of baselines and packets. This is how a byte of a model
 * travels from the socket to the disk and back:
 *
 *   put:  request stream → 1 MiB batches → digest (sha-256, and sha-512 if the client sent one) on
 *         one worker thread, seal on another (SealPipeline) → backend staging file → fsync →
 *         rename → directory fsync   (the blob is durable, not visible)
 *   commit (inside the caller's DB transaction): the catalog row   (now it is visible)
 *   read: backend byte range → 1 MiB runs of segments opened on the worker threads, a few ahead →
 *         response stream
 *
 * A small blob (up to `inlineMaxBytes`, when set) is sealed the same way but kept in the
 * database (table blob_inline) instead of a file: its sealed bytes are inserted by `commit`, in the
 * caller's transaction, so the group commit's one fsync makes it durable together with its rows.
 * The backend only ever sees sealed bytes, and only of the blobs that are not inline.
 *
 * Nothing ever holds a whole blob: memory stays at a few batches whatever the size.
 */
import crypto from 'node:crypto';
import { Readable } from 'node:stream';
import type { Db } from '../db/open.ts';
import { AppError } from '../errors.ts';
import { digestsMatch, StreamHasher, type DigestAlgorithm, type Digests } from '../crypto/digest.ts';
import type { Keyring } from '../crypto/keyring.ts';
import type { CryptoPool } from '../crypto/crypto-pool.ts';
import { BlobFormatError, blobKeyFromHeader, headerSize, newBlobCipher, sealedSize, segmentSize } from '../crypto/stream-aead.ts';
import type { Log } from '../log.ts';
import type { BlobBackend } from './backend.ts';
import { BlobDamage, type DamageReason } from './blob-damage.ts';
import { openRange } from './open-pipeline.ts';
import { SealPipeline } from './seal-pipeline.ts';
import { moved } from './transfer-garbage.ts';
import { isNoSpace } from './storage-monitor.ts';

/** A blob written and durable but not yet visible: commit it in a transaction, or discard it. */
export interface StagedBlob {
  id: string;
  /** The backend it was written to (see BlobBackend.acceptsCommit). */
  location?: string | undefined;
  dataKeyId: string;
  size: number;
  digests: Digests & { 'sha-256': Buffer };
  /** The sealed bytes of a blob kept in the database; `commit` inserts them. */
  inline?: Buffer | undefined;
}

export interface BlobInfo {
  id: string;
  dataKeyId: string;
  size: number;
  digests: Digests & { 'sha-256': Buffer };
  createdAt: string;
  /** Kept in the database (blob_inline), not in the backend. */
  inline: boolean;
}

interface BlobRow {
  id: string;
  data_key_id: string;
  size: number;
  sha256: Buffer;
  sha512: Buffer | null;
  created_at: string;
  inline: number;
}

export interface PutOptions {
  dataKeyId: string;
  /** Largest plaintext accepted; more is refused with 413 and leaves nothing behind. */
  maxBytes: number;
  /** What the client's Content-Digest said; a mismatch is refused and leaves nothing behind. */
  expected: Digests;
}

/** What a blob read is for, named in the log when the blob turns out damaged (model, packet, baseline). */
export type ReadContext = Record<string, string | number>;

export interface BlobServiceOptions {
  log?: Log | undefined;
  /** Says whether the storage is present and has room; asked before every upload. */
  storage?: { assertWritable(): Promise<void>; status(): { state: string } } | undefined;
  /** Blobs up to this many bytes are kept in the database instead of the backend; 0 keeps none there. */
  inlineMaxBytes?: number | undefined;
  /** Worker threads that digest, seal and open; without them this thread does it (storage.crypto_workers). */
  pool?: CryptoPool | undefined;
}

export class BlobService {
  readonly #keys: Keyring;
  readonly #backend: BlobBackend;
  readonly #sql;
  readonly #options: BlobServiceOptions;
  readonly #pool: CryptoPool | undefined;
  /** The register of blobs found damaged. */
  readonly damage: BlobDamage;

  constructor(db: Db, keys: Keyring, backend: BlobBackend, options: BlobServiceOptions = {}) {
    this.#keys = keys;
    this.#backend = backend;
    this.#options = options;
    this.#pool = options.pool;
    this.damage = new BlobDamage(db);
    // A database from before migration 0015 (a backup being verified) has no inline blobs.
    const inlineTable = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'blob_inline'").get() !== undefined;
    const inline = inlineTable ? 'EXISTS (SELECT 1 FROM blob_inline i WHERE i.blob_id = blobs.id)' : '0';
    this.#sql = {
      insert: db.prepare('INSERT INTO blobs (id, data_key_id, size, sha256, sha512, created_at) VALUES (?, ?, ?, ?, ?, ?)'),
      insertInline: inlineTable ? db.prepare('INSERT INTO blob_inline (blob_id, sealed) VALUES (?, ?)') : undefined,
      inlineBytes: inlineTable ? db.prepare<[string], { sealed: Buffer }>('SELECT sealed FROM blob_inline WHERE blob_id = ?') : undefined,
      inlineSize: inlineTable ? db.prepare<[string], { n: number }>('SELECT length(sealed) AS n FROM blob_inline WHERE blob_id = ?') : undefined,
      get: db.prepare<[string], BlobRow>(`SELECT id, data_key_id, size, sha256, sha512, created_at, ${inline} AS inline FROM blobs WHERE id = ?`),
      exists: db.prepare<[string], { one: number }>('SELECT 1 AS one FROM blobs WHERE id = ?'),
      delete: db.prepare('DELETE FROM blobs WHERE id = ?'),
      ids: db.prepare<[], { id: string }>('SELECT id FROM blobs ORDER BY created_at, id'),
    };
  }

  /** Streams `source` into a new sealed blob. Throws an AppError for too large, incomplete or wrong-digest bodies. */
  async put(source: Readable, options: PutOptions): Promise<StagedBlob> {
    // The client may break off while the staging file is being opened; the error then waits on the
    // stream for the loop below instead of going unhandled.
    const swallow = () => undefined;
    source.on('error', swallow);
    try {
      return await this.#put(source, options);
    } catch (error) {
      if (!isNoSpace(error)) throw error;
      // Full disk: say so (507), and look again so /readyz tells the truth at once.
      void this.#options.storage?.assertWritable().catch(() => undefined);
      throw new AppError('insufficient_storage', 'The server ran out of storage space while writing this; nothing was kept', { cause: error });
    } finally {
      source.off('error', swallow);
    }
  }

  async #put(source: Readable, options: PutOptions): Promise<StagedBlob> {
    // Refused before a byte is read when the storage is gone or below its free-space floor.
    await this.#options.storage?.assertWritable();
    const id = crypto.randomBytes(16).toString('hex');
    const { header, key } = newBlobCipher(options.dataKeyId, this.#keys.get(options.dataKeyId), id);
    const algorithms: DigestAlgorithm[] = ['sha-256', ...(Object.keys(options.expected) as DigestAlgorithm[])];
    const pipeline = new SealPipeline(this.#pool, key, header, [...new Set(algorithms)], () => this.#backend.create(id), this.#options.inlineMaxBytes ?? 0);
    try {
      let size = 0;
      try {
        for await (const chunk of source) {
          size += (chunk as Buffer).length;
          if (size > options.maxBytes) {
            throw new AppError('payload_too_large', `The body is larger than the limit of ${options.maxBytes} bytes`, {
              extra: { limit: options.maxBytes },
            });
          }
          await pipeline.push(chunk as Buffer);
          moved((chunk as Buffer).length);
        }
      } catch (error) {
        if (error instanceof AppError) throw error;
        if (isClientAbort(error)) throw new AppError('request_incomplete', 'The body ended before it was complete', { cause: error });
        throw error;
      }
      const sealed = await pipeline.finish();
      const digests = sealed.digests as StagedBlob['digests'];
      if (!digestsMatch(options.expected, digests)) {
        throw new AppError('digest_mismatch', 'The bytes received do not match the Content-Digest sent with them');
      }
      // A blob kept inline becomes durable with its catalog row, in the caller's transaction.
      await pipeline.writer?.publish();
      return { id, location: pipeline.writer?.location, dataKeyId: options.dataKeyId, size, digests, inline: sealed.inline };
    } catch (error) {
      await pipeline.abort();
      await pipeline.writer?.abort();
      throw error;
    }
  }

  /**
   * Makes a staged blob visible by writing its catalog row. Synchronous, so it runs inside the
   * caller's transaction together with the row that refers to the blob.
   */
  commit(blob: StagedBlob, now = new Date()): void {
    // Inside the transaction, so it cannot interleave with a migration's switch: bytes written to the
    // backend that was just switched away from would never reach the new one.
    if (this.#backend.acceptsCommit && !this.#backend.acceptsCommit(blob.id, blob.location)) {
      throw new AppError('service_unavailable', 'The blob storage was switched while this was sent; send it again', { headers: { 'Retry-After': '1' } });
    }
    this.#sql.insert.run(blob.id, blob.dataKeyId, blob.size, blob.digests['sha-256'], blob.digests['sha-512'] ?? null, now.toISOString());
    if (blob.inline) {
      if (!this.#sql.insertInline) throw new Error('this database has no table for inline blobs');
      this.#sql.insertInline.run(blob.id, blob.inline);
    }
  }

  /** Throws away a staged blob whose transaction did not commit. */
  async discard(blob: StagedBlob): Promise<void> {
    if (!blob.inline && !this.#sql.exists.get(blob.id)) await this.#backend.remove(blob.id);
  }

  info(id: string): BlobInfo | undefined {
    const row = this.#sql.get.get(id);
    if (!row) return undefined;
    const digests: BlobInfo['digests'] = { 'sha-256': row.sha256 };
    if (row.sha512) digests['sha-512'] = row.sha512;
    return { id: row.id, dataKeyId: row.data_key_id, size: row.size, digests, createdAt: row.created_at, inline: row.inline === 1 };
  }

  /**
   * The plaintext of a visible blob, or of the range `[start, end)` of it. Only the segments that the
   * range touches are read and opened; a segment that fails to open ends the stream with an error.
   */
  read(blob: BlobInfo, start = 0, end = blob.size, context: ReadContext = {}): Readable {
    if (start < 0 || end > blob.size || start > end) throw new RangeError('range outside the blob');
    return Readable.from(this.#watched(blob, this.#plaintext(blob, start, end), context), { objectMode: false, highWaterMark: 4 * segmentSize });
  }

  /** Passes the plaintext on; a segment that does not authenticate marks the blob damaged and is logged. */
  async *#watched(blob: BlobInfo, plaintext: AsyncGenerator<Buffer>, context: ReadContext): AsyncGenerator<Buffer> {
    try {
      for await (const chunk of plaintext) {
        yield chunk;
        moved(chunk.length);
      }
    } catch (error) {
      if (error instanceof BlobFormatError) this.#damaged(blob.id, 'unauthentic', context, error);
      throw error;
    }
  }

  #damaged(blobId: string, reason: DamageReason, context: ReadContext, error?: unknown): void {
    // The mark is a note beside the damage, never a reason to hide it: a read-only database (a backup
    // being verified) or a full disk must still let the original error through.
    let fresh: boolean | undefined;
    try {
      fresh = this.damage.mark(blobId, reason, new Date());
    } catch (markError) {
      this.#options.log?.warn({ blob_id: blobId, err: markError }, 'could not record a damaged blob');
    }
    this.#options.log?.error({ ...context, blob_id: blobId, reason, newly_marked: fresh, detail: (error as Error | undefined)?.message }, 'a stored blob is damaged: restore it from a backup (`modelshare blobs verify` lists every damaged blob)');
  }

  /**
   * Refuses, before a byte is sent, a blob already marked damaged or whose stored file is not the
   * size its catalog row implies (truncated, grown, missing). Damage inside a segment of the right
   * size is found only when that segment is read; the blob is then marked for next time.
   */
  async assertIntact(blob: BlobInfo, context: ReadContext = {}): Promise<void> {
    if (!this.damage.reasonFor(blob.id)) {
      const stored = await this.#storedSize(blob);
      if (stored === sealedSize(blob.size)) return;
      // A missing file while the whole data directory is away is an outage, not damage.
      if (stored === undefined && this.#options.storage && this.#options.storage.status().state === 'missing') {
        throw new AppError('service_unavailable', 'The server cannot reach its data right now; try again later', { headers: { 'Retry-After': '30' } });
      }
      this.#damaged(blob.id, stored === undefined ? 'missing' : 'truncated', context);
    }
    throw new AppError('blob_damaged', 'The stored bytes of this item are damaged; an administrator has been told and must restore them from a backup');
  }

  /** Every catalogued blob id, oldest first (for `blobs verify`). */
  ids(): string[] {
    return this.#sql.ids.all().map((r) => r.id);
  }

  /**
   * Reads a whole blob back and checks it: the size of its file, every segment's authentication and
   * the digests of the plaintext. Marks it damaged, or clears an earlier mark when it checks out.
   */
  async verify(blob: BlobInfo, context: ReadContext = {}): Promise<{ ok: true } | { ok: false; reason: DamageReason }> {
    const fail = (reason: DamageReason, error?: unknown) => {
      this.#damaged(blob.id, reason, context, error);
      return { ok: false as const, reason: this.damage.reasonFor(blob.id) ?? reason };
    };
    const stored = await this.#storedSize(blob);
    if (stored === undefined) return fail('missing');
    if (stored !== sealedSize(blob.size)) return fail('truncated');
    const hasher = new StreamHasher(Object.keys(blob.digests) as DigestAlgorithm[]);
    try {
      for await (const chunk of this.#plaintext(blob, 0, blob.size)) hasher.update(chunk);
    } catch (error) {
      if (error instanceof BlobFormatError) return fail('unauthentic', error);
      throw error;
    }
    if (!digestsMatch(blob.digests, hasher.digests())) return fail('digest_mismatch');
    this.damage.clear(blob.id);
    return { ok: true };
  }

  /** The stored (sealed) size of a blob, wherever it is kept. */
  async #storedSize(blob: BlobInfo): Promise<number | undefined> {
    if (blob.inline) return this.#sql.inlineSize?.get(blob.id)?.n;
    return this.#backend.size(blob.id);
  }

  /** The sealed bytes `[from, to)` of a blob, in chunks of about `chunkSize`. */
  #sealed(blob: BlobInfo, from: number, to: number, chunkSize?: number): AsyncIterable<Buffer> | Iterable<Buffer> {
    if (!blob.inline) return this.#backend.read(blob.id, from, to, chunkSize);
    const row = this.#sql.inlineBytes?.get(blob.id);
    if (!row) throw new BlobFormatError(`blob ${blob.id} is missing from the database`);
    return [row.sealed.subarray(from, to)];
  }

  /** The plaintext of `[start, end)` (open-pipeline.ts). */
  async *#plaintext(blob: BlobInfo, start: number, end: number): AsyncGenerator<Buffer> {
    const header = await collect(this.#sealed(blob, 0, headerSize));
    const key = blobKeyFromHeader(header, this.#keys.get(blob.dataKeyId), blob.id);
    const source = {
      read: (from: number, to: number, chunkSize: number) => this.#sealed(blob, from, to, chunkSize),
      openReader: async () => (blob.inline ? undefined : this.#backend.openReader?.(blob.id)),
    };
    yield* openRange(source, this.#pool, key, blob, start, end);
  }

  /**
   * Removes a blob's catalog row, inside the caller's transaction (with the rows that referred to
   * it); call `remove` after the commit to delete the file. A crash in between leaves an orphan file
   * for the sweep.
   */
  forget(id: string): void {
    this.#sql.delete.run(id);
  }

  /** Removes a blob: the row first (invisible at once), then the file. */
  async remove(id: string): Promise<void> {
    const inline = this.info(id)?.inline ?? false;
    this.#sql.delete.run(id); // an inline blob's bytes go with its row (ON DELETE CASCADE)
    if (!inline) await this.#backend.remove(id);
  }

  /**
   * Removes what a crash or a failed request left: staging files, and published files that never got
   * a catalog row. Files younger than `graceMs` are left alone, as a request may be about to commit
   * them; at start, before serving, the grace is zero.
   */
  async sweep(graceMs: number): Promise<{ staging: number; orphans: number }> {
    const staging = await this.#backend.clearStaging(graceMs);
    let orphans = 0;
    const cutoff = Date.now() - graceMs;
    for await (const { id, modifiedMs } of this.#backend.list()) {
      if (modifiedMs <= cutoff && !this.#sql.exists.get(id)) {
        await this.#backend.remove(id);
        orphans++;
      }
    }
    return { staging, orphans };
  }

  async check(): Promise<void> {
    await this.#backend.check();
  }

  /** Starts the worker threads now, so the first large upload does not wait for them (`serve`). */
  warm(): void {
    this.#pool?.warm();
  }
}

/**
 * The catalogued blobs kept in the blob store (files), not inline in the database: what a backup
 * copies beside its database copy. Works on a database from before migration 0015 too.
 */
export function blobsInStore(db: Db): { id: string; size: number }[] {
  const inlineTable = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'blob_inline'").get() !== undefined;
  const where = inlineTable ? 'WHERE id NOT IN (SELECT blob_id FROM blob_inline)' : '';
  return db.prepare(`SELECT id, size FROM blobs ${where} ORDER BY id`).all() as { id: string; size: number }[];
}

function isClientAbort(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE' || (error as Error | undefined)?.message === 'aborted';
}

async function collect(stream: AsyncIterable<unknown> | Iterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
