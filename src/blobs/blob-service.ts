/**
 * Blobs: the encrypted, digest-checked bytes of baselines and packets. This is how a byte of a model
 * travels from the socket to the disk and back:
 *
 *   put:  request stream → hash (sha-256, and sha-512 if the client sent one) → SegmentSealer →
 *         backend staging file → fsync → rename → directory fsync   (the blob is durable, not visible)
 *   commit (inside the caller's DB transaction): the catalog row   (now it is visible)
 *   read: backend byte range → SegmentOpener, one segment at a time → response stream
 *
 * Nothing ever holds a whole blob: memory stays at a few segments whatever the size.
 */
import crypto from 'node:crypto';
import { Readable } from 'node:stream';
import type { Db } from '../db/open.ts';
import { AppError } from '../errors.ts';
import { digestsMatch, StreamHasher, type DigestAlgorithm, type Digests } from '../crypto/digest.ts';
import type { Keyring } from '../crypto/keyring.ts';
import { BlobFormatError, headerSize, sealedSize, SegmentOpener, SegmentSealer, segmentSize, tagSize } from '../crypto/stream-aead.ts';
import type { Log } from '../log.ts';
import type { BlobBackend } from './backend.ts';
import { BlobDamage, type DamageReason } from './blob-damage.ts';
import { isNoSpace } from './storage-monitor.ts';

/** A blob written and durable but not yet visible: commit it in a transaction, or discard it. */
export interface StagedBlob {
  id: string;
  dataKeyId: string;
  size: number;
  digests: Digests & { 'sha-256': Buffer };
}

export interface BlobInfo {
  id: string;
  dataKeyId: string;
  size: number;
  digests: Digests & { 'sha-256': Buffer };
  createdAt: string;
}

interface BlobRow {
  id: string;
  data_key_id: string;
  size: number;
  sha256: Buffer;
  sha512: Buffer | null;
  created_at: string;
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
}

/** Bytes gathered before one write to storage: large writes, few system calls. */
const writeBatch = 1024 * 1024;

export class BlobService {
  readonly #keys: Keyring;
  readonly #backend: BlobBackend;
  readonly #sql;
  readonly #options: BlobServiceOptions;
  /** The register of blobs found damaged. */
  readonly damage: BlobDamage;

  constructor(db: Db, keys: Keyring, backend: BlobBackend, options: BlobServiceOptions = {}) {
    this.#keys = keys;
    this.#backend = backend;
    this.#options = options;
    this.damage = new BlobDamage(db);
    this.#sql = {
      insert: db.prepare('INSERT INTO blobs (id, data_key_id, size, sha256, sha512, created_at) VALUES (?, ?, ?, ?, ?, ?)'),
      get: db.prepare<[string], BlobRow>('SELECT id, data_key_id, size, sha256, sha512, created_at FROM blobs WHERE id = ?'),
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
    const sealer = new SegmentSealer(options.dataKeyId, this.#keys.get(options.dataKeyId), id);
    const hasher = new StreamHasher(['sha-256', ...(Object.keys(options.expected) as DigestAlgorithm[])]);
    const writer = await this.#backend.create(id);
    let size = 0;
    try {
      let batch: Buffer[] = [sealer.header];
      let batchBytes = headerSize;
      try {
        for await (const chunk of source) {
          size += chunk.length;
          if (size > options.maxBytes) {
            throw new AppError('payload_too_large', `The body is larger than the limit of ${options.maxBytes} bytes`, {
              extra: { limit: options.maxBytes },
            });
          }
          hasher.update(chunk);
          for (const segment of sealer.push(chunk)) {
            batch.push(segment);
            batchBytes += segment.length;
          }
          if (batchBytes >= writeBatch) {
            await writer.write(batch);
            batch = [];
            batchBytes = 0;
          }
        }
      } catch (error) {
        if (error instanceof AppError) throw error;
        if (isClientAbort(error)) throw new AppError('request_incomplete', 'The body ended before it was complete', { cause: error });
        throw error;
      }
      batch.push(sealer.finish());
      await writer.write(batch);
      const digests = hasher.digests() as StagedBlob['digests'];
      if (!digestsMatch(options.expected, digests)) {
        throw new AppError('digest_mismatch', 'The bytes received do not match the Content-Digest sent with them');
      }
      await writer.publish();
      return { id, dataKeyId: options.dataKeyId, size, digests };
    } catch (error) {
      await writer.abort();
      throw error;
    }
  }

  /**
   * Makes a staged blob visible by writing its catalog row. Synchronous, so it runs inside the
   * caller's transaction together with the row that refers to the blob.
   */
  commit(blob: StagedBlob, now = new Date()): void {
    this.#sql.insert.run(blob.id, blob.dataKeyId, blob.size, blob.digests['sha-256'], blob.digests['sha-512'] ?? null, now.toISOString());
  }

  /** Throws away a staged blob whose transaction did not commit. */
  async discard(blob: StagedBlob): Promise<void> {
    if (!this.#sql.exists.get(blob.id)) await this.#backend.remove(blob.id);
  }

  info(id: string): BlobInfo | undefined {
    const row = this.#sql.get.get(id);
    if (!row) return undefined;
    const digests: BlobInfo['digests'] = { 'sha-256': row.sha256 };
    if (row.sha512) digests['sha-512'] = row.sha512;
    return { id: row.id, dataKeyId: row.data_key_id, size: row.size, digests, createdAt: row.created_at };
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
      yield* plaintext;
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
      const stored = await this.#backend.size(blob.id);
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
    const stored = await this.#backend.size(blob.id);
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

  async *#plaintext(blob: BlobInfo, start: number, end: number): AsyncGenerator<Buffer> {
    const total = sealedSize(blob.size);
    const header = await collect(this.#backend.read(blob.id, 0, headerSize));
    const opener = new SegmentOpener(header, this.#keys.get(blob.dataKeyId), blob.id, blob.size);
    const first = Math.floor(start / segmentSize);
    const last = end === start ? first : Math.min(opener.lastIndex, Math.floor((end - 1) / segmentSize));
    const sealedSegment = segmentSize + tagSize;
    const from = headerSize + first * sealedSegment;
    const to = Math.min(total, headerSize + (last + 1) * sealedSegment);
    // The part of segment `i`'s plaintext that lies inside the range.
    const inRange = (i: number, plain: Buffer) => plain.subarray(Math.max(0, start - i * segmentSize), Math.max(0, end - i * segmentSize));
    let index = first;
    let rest: Buffer = Buffer.alloc(0);
    // Chunks of whole segments, so a segment is almost never split between two reads (no copying).
    for await (const chunk of this.#backend.read(blob.id, from, to, 16 * sealedSegment)) {
      const bytes = rest.length === 0 ? (chunk as Buffer) : Buffer.concat([rest, chunk as Buffer]);
      let offset = 0;
      while (bytes.length - offset >= sealedSegment && index <= last) {
        const plain = inRange(index, opener.open(index, bytes.subarray(offset, offset + sealedSegment)));
        if (plain.length > 0) yield plain;
        offset += sealedSegment;
        index++;
      }
      rest = bytes.subarray(offset);
    }
    if (index <= last) {
      if (index !== last && index !== opener.lastIndex) throw new BlobFormatError(`blob ${blob.id} is shorter than its catalog says`);
      const plain = inRange(index, opener.open(index, rest));
      if (plain.length > 0) yield plain;
      index++;
    }
    if (index <= last) throw new BlobFormatError(`blob ${blob.id} is shorter than its catalog says`);
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
    this.#sql.delete.run(id);
    await this.#backend.remove(id);
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
}

function isClientAbort(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE' || (error as Error | undefined)?.message === 'aborted';
}

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
