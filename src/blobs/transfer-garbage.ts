/**
 * Dead transfer buffers, collected while they are young. Every chunk a socket delivers, and every
 * segment node:crypto seals or opens, comes in a new buffer that is garbage a moment later. V8 frees
 * such (external) memory only after tens of MiB of it have piled up, so a large transfer held that
 * much resident for nothing. A young-generation collection after every few MiB moved (for all
 * transfers together) frees them while they are still young; it costs about a millisecond each.
 * The crypto workers do the same for their own heaps (crypto-worker.ts).
 */
import v8 from 'node:v8';
import vm from 'node:vm';

/** Bytes moved between two collections, across every transfer of the process (4 MiB kept the upload peak 15-20 MiB lower than 16). */
const collectEvery = 4 * 1024 * 1024;

// gc() is reachable only in a context made while --expose-gc is set; the flag is set back at once,
// so no other context gets it.
v8.setFlagsFromString('--expose-gc');
const collect = vm.runInNewContext('gc') as (options?: { type: 'minor' | 'major'; execution?: 'sync' }) => void;
v8.setFlagsFromString('--no-expose-gc');

let sinceCollect = 0;

/** Counts `bytes` moved by a transfer; collects young garbage after every `collectEvery`. */
export function moved(bytes: number): void {
  sinceCollect += bytes;
  if (sinceCollect < collectEvery) return;
  sinceCollect = 0;
  collect({ type: 'minor' });
}
