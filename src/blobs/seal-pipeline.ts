/**
 * The write half of a blob: plaintext in, digests and sealed segments out, with receive, digest,
 * seal and write running at the same time.
 *
 * Bytes are gathered into 1 MiB batches (16 segments) in shared memory. A full batch goes to the
 * crypto pool twice at once: to the thread that keeps this blob's digest, and to another thread
 * that seals it; the sealed batch is then written while the next ones are received. A few batches
 * are out at a time, and writes happen in order. Memory is bounded: the batches live in a lease of
 * the pool's slots (an input and an output slot per batch out), and the next bytes are taken only
 * when a slot is free again, which holds the socket back. When the pool's budget is taken, or there
 * is no pool, the digest and the seal run on this thread, into buffers reused from batch to batch.
 *
 * A blob that fits in one batch never leaves this thread: it is digested and sealed here in one go
 * (a worker round trip would cost more than the work), and returned whole when it is small enough
 * to be kept in the database (`inlineMax`) instead of a file.
 */
import type { CryptoPool, Slot, SlotLease } from '../crypto/crypto-pool.ts';
import { StreamHasher, type DigestAlgorithm, type Digests } from '../crypto/digest.ts';
import { sealSegments, segmentSize, tagSize } from '../crypto/stream-aead.ts';
import type { BlobWriter } from './backend.ts';

const batchBytes = 16 * segmentSize;
const sealedBatchBytes = 16 * (segmentSize + tagSize);
/** Batches out at once: one being digested and sealed, one being written, one waiting. */
const depth = 3;

export type Sealed = { digests: Digests; size: number } & ({ inline: Buffer } | { inline?: undefined });

export class SealPipeline {
  readonly #pool: CryptoPool | undefined;
  /** This upload's slots of the pool (none: everything on this thread). */
  #lease: SlotLease | undefined;
  /** Sealed batches written already, sealed into again (this thread's path: no garbage per batch). */
  readonly #spare: Buffer[] = [];
  /** The digest, kept on this thread when there is no pool. */
  #hasher: StreamHasher | undefined;
  readonly #key: Buffer;
  readonly #header: Buffer;
  readonly #algorithms: DigestAlgorithm[];
  readonly #create: () => Promise<BlobWriter>;
  readonly #inlineMax: number;
  #writer: BlobWriter | undefined;
  /** Before the first batch goes out: the chunks as received (a small blob stays like this). */
  #head: Buffer[] | undefined = [];
  #headBytes = 0;
  #slot: Slot | undefined;
  #fill = 0;
  #index = 0;
  #size = 0;
  #hashThread = 0;
  #hash: number | undefined;
  /** Each batch's promise settles once it is written; the chain keeps writes in order. */
  #pending: Promise<void>[] = [];
  #chain: Promise<void> = Promise.resolve();

  constructor(pool: CryptoPool | undefined, key: Buffer, header: Buffer, algorithms: DigestAlgorithm[], create: () => Promise<BlobWriter>, inlineMax: number) {
    this.#pool = pool;
    this.#key = key;
    this.#header = header;
    this.#algorithms = algorithms;
    this.#create = create;
    this.#inlineMax = inlineMax;
  }

  /** The storage writer, once there is one (a blob kept inline has none). */
  get writer(): BlobWriter | undefined {
    return this.#writer;
  }

  /** Takes the next bytes; resolves when there is room for more (backpressure). */
  async push(chunk: Buffer): Promise<void> {
    this.#size += chunk.length;
    if (this.#head) {
      this.#head.push(chunk);
      this.#headBytes += chunk.length;
      if (this.#headBytes <= batchBytes) return;
      // More than one batch: from here on it streams through the pool.
      const head = this.#head;
      this.#head = undefined;
      this.#writer = await this.#create();
      // An input and an output slot for each batch out, and one being filled.
      this.#lease = this.#pool?.lease(2 * depth + 1);
      if (this.#pool && this.#lease) {
        this.#hashThread = this.#pool.pick();
        this.#hash = this.#pool.hashStart(this.#hashThread, this.#algorithms);
      } else {
        this.#hasher = new StreamHasher(this.#algorithms);
      }
      for (const part of head) await this.#copy(part);
      return;
    }
    await this.#copy(chunk);
  }

  async #copy(chunk: Buffer): Promise<void> {
    let offset = 0;
    while (offset < chunk.length) {
      // A full batch goes out only once a byte follows it: until then it might hold the last segment.
      if (this.#fill === batchBytes) await this.#dispatch(false);
      this.#slot ??= this.#lease ? await this.#lease.take() : { id: 0, buffer: Buffer.allocUnsafeSlow(batchBytes) };
      const n = Math.min(chunk.length - offset, batchBytes - this.#fill);
      chunk.copy(this.#slot.buffer, this.#fill, offset, offset + n);
      this.#fill += n;
      offset += n;
    }
  }

  async #dispatch(final: boolean): Promise<void> {
    const slot = this.#slot!;
    const length = this.#fill;
    const first = this.#index;
    this.#index += final ? Math.max(1, Math.ceil(length / segmentSize)) : length / segmentSize;
    this.#slot = undefined;
    this.#fill = 0;
    const header = first === 0 ? [this.#header] : [];
    if (!this.#lease) {
      // No workers: digest and seal here, then write while the next batch is received.
      const bytes = slot.buffer.subarray(0, length);
      this.#hasher!.update(bytes);
      const target = this.#spare.pop() ?? Buffer.allocUnsafeSlow(sealedBatchBytes);
      const sealed = sealSegments(this.#key, first, bytes, final, target);
      this.#slot = slot; // sealed into a buffer of its own: the slot is free again at once
      const writer = this.#writer!;
      this.#chain = this.#chain.then(async () => {
        await writer.write([...header, sealed]);
        this.#spare.push(target);
      });
      const written = this.#chain;
      written.catch(() => undefined);
      this.#pending.push(written);
      if (this.#pending.length >= depth) await this.#pending.shift();
      return;
    }
    const pool = this.#pool!;
    const lease = this.#lease;
    const out = await lease.take();
    const hashed = pool.hashUpdate(this.#hashThread, this.#hash!, slot, length);
    const sealed = pool.seal(pool.other(this.#hashThread), this.#key, first, slot, length, final, out);
    const both = Promise.all([hashed, sealed]);
    // The input slot is free again once both threads have read it; the output once it is written.
    void Promise.allSettled([hashed, sealed]).then(() => lease.give(slot));
    const writer = this.#writer!;
    this.#chain = this.#chain.then(async () => {
      const [, n] = await both;
      await writer.write([...header, out.buffer.subarray(0, n)]);
    });
    const written = this.#chain;
    void Promise.allSettled([sealed, written]).then(() => lease.give(out));
    written.catch(() => undefined); // awaited below or in finish/abort; never an unhandled rejection
    this.#pending.push(written);
    if (this.#pending.length >= depth) await this.#pending.shift();
  }

  /** Ends the input: seals the rest, waits for every write; returns the digests (and the sealed bytes of an inline blob). */
  async finish(): Promise<Sealed> {
    if (this.#head) {
      const plaintext = Buffer.concat(this.#head, this.#headBytes);
      this.#head = undefined;
      const hasher = new StreamHasher(this.#algorithms);
      hasher.update(plaintext);
      const sealed = sealSegments(this.#key, 0, plaintext, true);
      const digests = hasher.digests();
      if (plaintext.length <= this.#inlineMax) return { digests, size: this.#size, inline: Buffer.concat([this.#header, sealed]) };
      this.#writer = await this.#create();
      await this.#writer.write([this.#header, sealed]);
      return { digests, size: this.#size };
    }
    await this.#dispatch(true);
    while (this.#pending.length > 0) await this.#pending.shift();
    if (!this.#lease) return { digests: this.#hasher!.digests(), size: this.#size };
    const digests = await this.#pool!.hashFinish(this.#hashThread, this.#hash!);
    this.#hash = undefined;
    await this.#endLease();
    return { digests, size: this.#size };
  }

  /** Gives the slots back to the pool (every batch has settled: the jobs that used them are done). */
  async #endLease(): Promise<void> {
    const lease = this.#lease;
    if (!lease) return;
    if (this.#slot) lease.give(this.#slot);
    this.#slot = undefined;
    lease.end();
  }

  /** After a failure: waits for batches still out (so nothing writes after the abort), and drops the digest. */
  async abort(): Promise<void> {
    await Promise.allSettled(this.#pending);
    this.#pending = [];
    if (this.#hash !== undefined) this.#pool?.hashDrop(this.#hashThread, this.#hash);
    this.#hash = undefined;
    await this.#endLease();
  }
}
