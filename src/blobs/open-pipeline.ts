/**
 * The read half of a blob: sealed bytes in, plaintext out. The segments a range touches are read in
 * runs of 16 (a file straight into the crypto pool's shared slots where the backend can), opened a
 * few runs ahead on the worker threads, and trimmed to the range; without workers, or for a short
 * range (a worker round trip would cost more), they are opened on the calling thread.
 */
import type { CryptoPool, Slot, SlotLease } from '../crypto/crypto-pool.ts';
import { BlobFormatError, headerSize, lastSegmentIndex, openSegments, sealedSize, segmentSize, tagSize } from '../crypto/stream-aead.ts';
import type { BlobReader } from './backend.ts';

/** Segments opened in one worker job, and read from storage in one chunk. */
const runSegments = 16;
/** Runs opened ahead of the one being sent. */
const readAhead = 3;
/** Ranges of at most this many segments are opened on this thread (a worker round trip costs more). */
const localSegments = 4;
const sealedSegment = segmentSize + tagSize;

/** Where the sealed bytes of one blob come from. */
export interface SealedSource {
  /** The sealed bytes `[from, to)` in chunks of about `chunkSize`. */
  read(from: number, to: number, chunkSize: number): AsyncIterable<Buffer> | Iterable<Buffer>;
  /** Positional reads into the caller's buffers, where the storage offers them. */
  openReader(): Promise<BlobReader | undefined>;
}

/**
 * The plaintext of `[start, end)`: the segments it touches are read in runs of 16 and opened,
 * a few runs ahead on the worker threads (a short range on this thread), and trimmed to the range.
 */
export async function* openRange(source: SealedSource, pool: CryptoPool | undefined, key: Buffer, blob: { id: string; size: number }, start: number, end: number): AsyncGenerator<Buffer> {
  const total = sealedSize(blob.size);
  const lastIndex = lastSegmentIndex(blob.size);
  const first = Math.floor(start / segmentSize);
  const last = end === start ? first : Math.min(lastIndex, Math.floor((end - 1) / segmentSize));
  const from = headerSize + first * sealedSegment;
  const to = Math.min(total, headerSize + (last + 1) * sealedSegment);
  // A lease of the pool's slots: one per run out, and one being read into. Without one (no pool, a
  // short range, or the pool's budget taken by other transfers) the runs are opened on this thread.
  const lease = !pool || last - first + 1 <= localSegments ? undefined : pool.lease(readAhead + 2);
  const local = !lease;
  // The part of the run starting at segment `i` that lies inside the range.
  const inRange = (i: number, plain: Buffer) => plain.subarray(Math.max(0, start - i * segmentSize), Math.max(0, end - i * segmentSize));
  // `plain` is the run opened: on a worker it is under way already; on this thread it is opened only
  // when it is next to go out, so its plaintext is garbage soon after (young, collected cheaply)
  // instead of waiting behind the runs read ahead.
  const pending: { index: number; slot: Slot; plain: () => Promise<Buffer> }[] = [];
  // Buffers of runs already opened on this thread, read into again (no garbage per run).
  const spare: Slot[] = [];
  let index = first;
  const next = async () => {
    const run = pending.shift()!;
    try {
      return inRange(run.index, await run.plain());
    } finally {
      // The run has been opened: nothing reads its slot any more.
      if (lease) lease.give(run.slot);
      else spare.push(run.slot);
    }
  };
  try {
    for await (const { slot, length } of runs(source, lease, from, to, spare)) {
      const runFirst = index;
      index += Math.ceil(length / sealedSegment);
      // Opened on a worker in place, then copied out of the slot: the response owns what it is given.
      let plain: () => Promise<Buffer>;
      if (lease) {
        const opened = pool!.open(pool!.pick(), key, runFirst, lastIndex, slot, length).then((n) => Buffer.from(slot.buffer.subarray(0, n)));
        opened.catch(() => undefined); // awaited in order below; never an unhandled rejection
        plain = () => opened;
      } else {
        plain = async () => openSegments(key, runFirst, lastIndex, slot.buffer.subarray(0, length));
      }
      pending.push({ index: runFirst, slot, plain });
      while (pending.length > readAhead) {
        const out = await next();
        if (out.length > 0) yield out;
      }
    }
    while (pending.length > 0) {
      const out = await next();
      if (out.length > 0) yield out;
    }
  } finally {
    // A reader that stopped early (a closed connection, a damaged segment): the slots of the runs
    // still out go back once their jobs settle.
    for (const run of pending.splice(0)) if (lease) void run.plain().then(() => lease.give(run.slot), () => lease.give(run.slot));
    lease?.end();
  }
  if (index <= last) throw new BlobFormatError(`blob ${blob.id} is shorter than its catalog says`);
}

/**
 * The sealed bytes `[from, to)` in runs of whole segments, each in a slot (shared memory for the
 * workers, or a plain buffer when opened here). The first run is one segment: the response starts
 * (and a damaged segment further on breaks it off mid-stream, as a client expects) without waiting
 * for a whole run. A file is read straight into the slots where the backend can; a short file
 * gives fewer runs, which the caller reports.
 */
async function* runs(source: SealedSource, lease: SlotLease | undefined, from: number, to: number, spare: Slot[]): AsyncGenerator<{ slot: Slot; length: number }> {
  const runBytes = runSegments * sealedSegment;
  // From the lease, waiting while every slot is out (the response is slower than the disk).
  const take = async (): Promise<Slot> => (lease ? lease.take() : (spare.pop() ?? { id: 0, buffer: Buffer.allocUnsafeSlow(runBytes) }));
  const give = (slot: Slot) => {
    if (lease) lease.give(slot);
  };
  let position = from;
  const reader = lease ? await source.openReader() : undefined;
  if (reader) {
    try {
      while (position < to) {
        const length = Math.min(to - position, position === from ? sealedSegment : runBytes);
        const slot = await take();
        let n: number;
        try {
          n = await reader.readInto(position, slot.buffer.subarray(0, length));
        } catch (error) {
          give(slot);
          throw error;
        }
        if (n === 0) {
          give(slot);
          return;
        }
        position += n;
        yield { slot, length: n };
        if (n < length) return;
      }
    } finally {
      await reader.close();
    }
    return;
  }
  let slot: Slot | undefined;
  let fill = 0;
  try {
    for await (const chunk of source.read(from, to, runBytes)) {
      let offset = 0;
      while (offset < (chunk as Buffer).length) {
        slot ??= await take();
        const runEnd = position === from ? sealedSegment : runBytes;
        const n = Math.min((chunk as Buffer).length - offset, runEnd - fill);
        (chunk as Buffer).copy(slot.buffer, fill, offset, offset + n);
        fill += n;
        offset += n;
        if (fill === runEnd) {
          const full = slot;
          slot = undefined;
          fill = 0;
          position += runEnd;
          yield { slot: full, length: runEnd };
        }
      }
    }
    if (fill > 0) {
      const rest = slot!;
      slot = undefined;
      yield { slot: rest, length: fill };
    }
  } finally {
    if (slot) give(slot);
  }
}
