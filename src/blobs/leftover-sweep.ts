/**
 * The start-up sweep of what an earlier run left in the blob directory: staging files, and published
 * files that never got a catalog row (a crash between the rename and the commit). It runs after the
 * server listens, in the background, so that a directory of a million blobs does not hold the start:
 * it walks one file at a time, yielding to requests between files.
 *
 * Why it is safe while requests run: it only touches files last written before `startedAt`, the
 * moment this process began, before it opened the database. Every file a request of this process
 * writes (its staging file, then the same file renamed, which keeps its time) is written after that,
 * so the sweep never removes a blob a request is about to commit. A file written before it with no
 * row can never get one: blob ids are random and made with their file.
 */
import type { BlobBackend } from './backend.ts';
import type { BlobService } from './blob-service.ts';

export interface LeftoverSweep {
  /** Resolves with what was removed, once the walk is done or stopped. */
  done: Promise<{ staging: number; orphans: number; stopped: boolean }>;
  /** Stops the walk at its next file (for shutdown). */
  stop(): void;
}

export function sweepLeftovers(blobs: BlobService, backend: BlobBackend, startedAt: number): LeftoverSweep {
  let stopped = false;
  const done = (async () => {
    // The cutoff is taken in the same tick as clearStaging's own, so it is startedAt to the millisecond.
    const staging = await backend.clearStaging(Math.max(0, Date.now() - startedAt));
    let orphans = 0;
    for await (const { id, modifiedMs } of backend.list()) {
      if (stopped) break;
      if (modifiedMs < startedAt && !blobs.info(id)) {
        await backend.remove(id);
        orphans++;
      }
    }
    return { staging, orphans, stopped };
  })();
  return { done, stop: () => void (stopped = true) };
}
