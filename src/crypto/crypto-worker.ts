/**
 * A worker thread of the crypto pool (crypto-pool.ts): streamed digests and the sealing and opening
 * of runs of blob segments, off the thread that serves requests. Everything here is node:crypto
 * through stream-aead.ts; the thread only moves bytes in and out of the pool's shared slots.
 */
import crypto from 'node:crypto';
import v8 from 'node:v8';
import vm from 'node:vm';
import { parentPort } from 'node:worker_threads';
import { openSegments, sealSegments } from './stream-aead.ts';
import type { Job, Reply } from './crypto-pool.ts';

const port = parentPort!;

/**
 * Every segment node:crypto seals or opens comes back in a new buffer, garbage a moment later. V8
 * collects such (external) memory only after tens of MiB have piled up, per thread, which on a large
 * transfer would hold that much resident in each worker. A young-generation collection after every
 * few MiB keeps it small; this thread's heap is tiny, so one takes well under a millisecond.
 */
v8.setFlagsFromString('--expose-gc');
const collect = vm.runInNewContext('gc') as (options?: { type: 'minor' | 'major' }) => void;
const collectEvery = 8 * 1024 * 1024;
let sinceCollect = 0;
const processed = (bytes: number) => {
  sinceCollect += bytes;
  if (sinceCollect < collectEvery) return;
  sinceCollect = 0;
  collect({ type: 'minor' });
};
const hashes = new Map<number, [string, crypto.Hash][]>();
const slots = new Map<number, Buffer>();

/** A digest this worker keeps; one it does not know (it was restarted meanwhile) fails the upload. */
const digest = (id: number) => {
  const kept = hashes.get(id);
  if (!kept) throw new Error(`unknown digest ${id}: the crypto worker was restarted`);
  return kept;
};

const slot = (id: number, length: number) => {
  const buffer = slots.get(id);
  if (!buffer) throw new Error(`unknown slot ${id}`);
  return buffer.subarray(0, length);
};

function run(job: Job): { result?: number | Record<string, Uint8Array> } {
  switch (job.op) {
    case 'slot':
      slots.set(job.slot, Buffer.from(job.memory));
      return {};
    case 'hash-start':
      hashes.set(job.hash, job.algorithms.map((a) => [a, crypto.createHash(a === 'sha-512' ? 'sha512' : 'sha256')]));
      return {};
    case 'hash-update': {
      const bytes = slot(job.slot, job.length);
      for (const [, hash] of digest(job.hash)) hash.update(bytes);
      return {};
    }
    case 'hash-finish': {
      const digests = Object.fromEntries(digest(job.hash).map(([a, hash]) => [a, new Uint8Array(hash.digest())]));
      hashes.delete(job.hash);
      return { result: digests };
    }
    case 'hash-drop':
      hashes.delete(job.hash);
      return {};
    case 'seal': {
      const sealed = sealSegments(job.key, job.first, slot(job.slot, job.length), job.final, slots.get(job.out));
      processed(job.length);
      return { result: sealed.length };
    }
    case 'open': {
      // In place: segment i's plaintext goes to i × 64 KiB, before its own ciphertext and after what
      // was opened already, so nothing not yet read is overwritten (the tag was taken before).
      const opened = openSegments(job.key, job.first, job.lastIndex, slot(job.slot, job.length), slots.get(job.slot));
      processed(job.length);
      return { result: opened.length };
    }
  }
}

port.on('message', (job: Job) => {
  let reply: Reply;
  try {
    reply = { id: job.id, ok: true, result: run(job).result };
  } catch (error) {
    reply = { id: job.id, ok: false, name: (error as Error).name, message: (error as Error).message };
  }
  port.postMessage(reply);
});
