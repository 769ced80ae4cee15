/**
 * A small pool of worker threads for the CPU-heavy part of moving blobs: SHA-256/512 of an upload
 * and the AES-256-GCM of its segments (crypto-worker.ts). With the digest on one thread and the
 * sealing on another, the thread that serves requests only receives, copies and writes, so on a
 * machine with two cores an upload's receive, digest, seal and write run at the same time.
 *
 * Bytes go to the workers in slots of shared memory (SharedArrayBuffer, no copy), each made known
 * to every worker once, so a job is a small message naming its slots, and results come back in a
 * slot too. There is one pool per process, made on first use; idle workers do not keep the process
 * alive.
 *
 * Memory is bounded: the slots are all of one size (a run of 16 sealed segments), at most
 * `maxSlots` of them ever exist, and they are reused, never given back (a slot dropped and made anew
 * is garbage in two heaps until both collect it). A transfer takes a lease of a few slots for its
 * whole life (`lease`) and waits for one of them when all are out, which is the back-pressure to its
 * socket; a transfer that finds the budget taken gets no lease and does its crypto on its own thread.
 */
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import type { DigestAlgorithm, Digests } from './digest.ts';
import { BlobFormatError, segmentSize, tagSize } from './stream-aead.ts';

/** The size of every slot: 16 sealed segments, the largest batch or run the pipelines move. */
export const slotBytes = 16 * (segmentSize + tagSize);
/** Slots the pool may hold across the process, unless told otherwise: 16 MiB of shared memory. */
export const defaultMaxSlots = 16;

export type Job = { id: number } & (
  | { op: 'slot'; slot: number; memory: SharedArrayBuffer }
  | { op: 'hash-start'; hash: number; algorithms: DigestAlgorithm[] }
  | { op: 'hash-update'; hash: number; slot: number; length: number }
  | { op: 'hash-finish'; hash: number }
  | { op: 'hash-drop'; hash: number }
  | { op: 'seal'; key: Uint8Array; first: number; final: boolean; slot: number; length: number; out: number }
  | { op: 'open'; key: Uint8Array; first: number; lastIndex: number; slot: number; length: number }
);

/** A buffer of shared memory that every worker knows by its id. */
export interface Slot {
  id: number;
  buffer: Buffer;
}

type JobInput = Job extends infer J ? (J extends { id: number } ? Omit<J, 'id'> : never) : never;

export type Reply = { id: number } & ({ ok: true; result?: number | Uint8Array | Record<string, Uint8Array> | undefined } | { ok: false; name: string; message: string });

interface Thread {
  worker: Worker;
  pending: Map<number, { resolve: (r: unknown) => void; reject: (e: Error) => void }>;
}

/**
 * The worker's entry. Run from the TypeScript source (tests, benches), it is loaded through tsx's
 * loader, registered in the worker itself (Node 20 workers do not inherit the process's loader).
 */
function spawnWorker(): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./crypto-worker.js', import.meta.url));
  const entry = new URL('./crypto-worker.ts', import.meta.url).href;
  const api = import.meta.resolve('tsx/esm/api');
  return new Worker(`import(${JSON.stringify(api)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); });`, { eval: true });
}

/**
 * Slots of the pool lent to one transfer for its whole life. `take` waits while every slot of the
 * lease is out; `end` gives the free ones back to the pool, and each one still out goes back when
 * it is given.
 */
export class SlotLease {
  #free: Slot[];
  readonly #waiting: ((slot: Slot) => void)[] = [];
  readonly #back: (slot: Slot) => void;
  #ended = false;

  constructor(slots: Slot[], back: (slot: Slot) => void) {
    this.#free = slots;
    this.#back = back;
  }

  /** A slot of the lease; waits until one is given back when all are out. */
  take(): Promise<Slot> {
    const slot = this.#free.pop();
    if (slot) return Promise.resolve(slot);
    if (this.#ended) return Promise.reject(new Error('the slot lease has ended'));
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  /** Gives a slot back, once no job reads or writes it. */
  give(slot: Slot): void {
    if (this.#ended) return this.#back(slot);
    const waiter = this.#waiting.shift();
    if (waiter) waiter(slot);
    else this.#free.push(slot);
  }

  /** The transfer is over: its slots go back to the pool (those still out, when given). */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    for (const slot of this.#free) this.#back(slot);
    this.#free = [];
  }
}

export class CryptoPool {
  readonly size: number;
  readonly maxSlots: number;
  readonly #threads: (Thread | undefined)[];
  #nextId = 1;
  #nextThread = 0;
  /** Every slot there is (the workers know each). */
  readonly #slots = new Map<number, Slot>();
  /** Slots no lease holds. */
  readonly #idle: Slot[] = [];
  /** Slots leased out now. */
  #leased = 0;

  constructor(size = Math.max(1, Math.min(2, os.availableParallelism() - 1)), maxSlots = defaultMaxSlots) {
    this.size = size;
    this.maxSlots = maxSlots;
    this.#threads = Array.from({ length: size }, () => undefined);
  }

  /** A thread index to pin a stream's digest to; the next call gives the next thread. */
  pick(): number {
    const i = this.#nextThread;
    this.#nextThread = (i + 1) % this.size;
    return i;
  }

  /** Another thread than `i`, when there is one. */
  other(i: number): number {
    return (i + 1) % this.size;
  }

  #thread(i: number): Thread {
    const existing = this.#threads[i];
    if (existing) return existing;
    const worker = spawnWorker();
    worker.unref();
    const thread: Thread = { worker, pending: new Map() };
    // An unref before the worker is online does not hold: idle, it must not keep the process alive.
    worker.once('online', () => {
      if (thread.pending.size === 0) worker.unref();
    });
    const fail = (error: Error) => {
      // A worker that died takes its jobs with it: they fail, and the next job starts a new worker.
      if (this.#threads[i] === thread) this.#threads[i] = undefined;
      for (const { reject } of thread.pending.values()) reject(error);
      thread.pending.clear();
    };
    worker.on('message', (reply: Reply) => {
      const waiting = thread.pending.get(reply.id);
      if (!waiting) return;
      thread.pending.delete(reply.id);
      if (thread.pending.size === 0) worker.unref();
      if (reply.ok) waiting.resolve(reply.result);
      else waiting.reject(reply.name === 'BlobFormatError' ? new BlobFormatError(reply.message) : new Error(reply.message));
    });
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`a crypto worker stopped (exit code ${code})`)));
    this.#threads[i] = thread;
    // A new worker learns every slot there is (messages arrive in order, before any job naming one).
    for (const slot of this.#slots.values()) worker.postMessage({ id: 0, op: 'slot', slot: slot.id, memory: slot.buffer.buffer });
    return thread;
  }

  /**
   * A lease of `count` slots for one transfer, or undefined when the process's budget of slots is
   * taken (the transfer then does its crypto on its own thread, with memory of its own bounded).
   */
  lease(count: number): SlotLease | undefined {
    if (this.#leased + count > this.maxSlots) return undefined;
    this.#leased += count;
    const slots = Array.from({ length: count }, () => this.#idle.pop() ?? this.#newSlot());
    return new SlotLease(slots, (slot) => {
      this.#leased -= 1;
      this.#idle.push(slot);
    });
  }

  /** Slots made so far (never more than maxSlots). */
  get slotCount(): number {
    return this.#slots.size;
  }

  #newSlot(): Slot {
    const slot = { id: this.#nextId++, buffer: Buffer.from(new SharedArrayBuffer(slotBytes)) };
    this.#slots.set(slot.id, slot);
    for (const thread of this.#threads) thread?.worker.postMessage({ id: 0, op: 'slot', slot: slot.id, memory: slot.buffer.buffer });
    return slot;
  }

  #call<T>(i: number, job: JobInput): Promise<T> {
    const thread = this.#thread(i);
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      // While a job is out, the worker keeps the process alive (a command waiting on it must not exit).
      if (thread.pending.size === 0) thread.worker.ref();
      thread.pending.set(id, { resolve: resolve as (r: unknown) => void, reject });
      thread.worker.postMessage({ ...job, id });
    });
  }

  /** Starts a streamed digest on thread `i`; feed it with `hashUpdate` on the same thread, in order. */
  hashStart(i: number, algorithms: DigestAlgorithm[]): number {
    const hash = this.#nextId++;
    void this.#call(i, { op: 'hash-start', hash, algorithms }).catch(() => undefined);
    return hash;
  }

  /** Resolves once the worker has read `length` bytes of `slot`, so the slot may be reused. */
  hashUpdate(i: number, hash: number, slot: Slot, length: number): Promise<void> {
    return this.#call(i, { op: 'hash-update', hash, slot: slot.id, length });
  }

  async hashFinish(i: number, hash: number): Promise<Digests> {
    const raw = await this.#call<Record<string, Uint8Array>>(i, { op: 'hash-finish', hash });
    return Object.fromEntries(Object.entries(raw).map(([a, d]) => [a, Buffer.from(d.buffer, d.byteOffset, d.length)]));
  }

  /** Forgets a digest that will not be finished (a failed upload). */
  hashDrop(i: number, hash: number): void {
    void this.#call(i, { op: 'hash-drop', hash }).catch(() => undefined);
  }

  /** `sealSegments` of the first `length` bytes of `slot` on thread `i`, into `out`; resolves to the sealed length. */
  seal(i: number, key: Buffer, first: number, slot: Slot, length: number, final: boolean, out: Slot): Promise<number> {
    return this.#call(i, { op: 'seal', key, first, final, slot: slot.id, length, out: out.id });
  }

  /**
   * `openSegments` of the first `length` bytes of `slot` on thread `i`, in place: the plaintext is
   * written over the sealed bytes at the start of the slot (each segment's plaintext lands before its
   * own ciphertext, after the segments already opened). Resolves to the plaintext's length; rejects
   * with a BlobFormatError.
   */
  open(i: number, key: Buffer, first: number, lastIndex: number, slot: Slot, length: number): Promise<number> {
    return this.#call<number>(i, { op: 'open', key, first, lastIndex, slot: slot.id, length });
  }

  /** Starts every worker now instead of on first use. */
  warm(): void {
    for (let i = 0; i < this.size; i++) this.#thread(i);
  }

  /** Stops the workers (jobs still out fail). */
  async close(): Promise<void> {
    await Promise.all(this.#threads.map((t) => t?.worker.terminate()));
  }
}

const shared = new Map<number, CryptoPool>();

/** The process's pool of `size` workers, made on first use (tests open many stores in one process). */
export function sharedCryptoPool(size: number, maxSlots = defaultMaxSlots): CryptoPool {
  let pool = shared.get(size);
  if (!pool) shared.set(size, (pool = new CryptoPool(size, maxSlots)));
  return pool;
}

