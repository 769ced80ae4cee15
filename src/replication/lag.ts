/**
 * The replication lag, measured rather than guessed. The recovery point is the newest moment such
 * that every commit acknowledged before it is in the replica; the lag is now minus that moment (0
 * when the replica holds everything committed so far).
 *
 * How it is known:
 * - Local side: every tick the server reads the WAL file's header and new frame headers: the WAL's
 *   salt and the end of its last commit frame. A commit that was acknowledged before the read lies at
 *   or before that position, whichever process made it. Each distinct position is kept with the last
 *   time it was seen.
 * - Litestream side: Litestream mirrors the WAL into "shadow" WAL files, one per WAL index, each
 *   starting with the same header (so the same salt) at the same byte offsets; the salt tells which
 *   generation and index a position belongs to. And after each upload Litestream logs `wal segment
 *   written` with the segment's start and size: the replica holds that index up to start + size.
 * A local position is replicated once the replica has reached its index and offset; since the WAL is
 * written in order, every older position is replicated too.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ReplicatedPosition } from './supervisor.ts';

interface Sample {
  salt: string;
  end: number;
  /** The last time this position was the newest commit: everything acknowledged before is in it. */
  seenAt: number;
}

/**
 * Reads the WAL file (never the -shm: closing a descriptor of a file SQLite holds POSIX locks on
 * drops those locks for the whole process, and another process could then truncate the shared memory
 * under our mapping). The WAL holds no locks. Frames are scanned incrementally: a frame belongs to
 * the current WAL when its salts match the header's, and a commit frame carries the database size.
 * A frame whose header is on disk before its commit was acknowledged only moves the position later,
 * which asks more of the replica, never less.
 */
export class WalScanner {
  readonly #file: string;
  #salt = '';
  #pageSize = 0;
  #next = 32;
  #end = 0;

  constructor(walFile: string) {
    this.#file = walFile;
  }

  /** The current WAL's salt and the byte offset after its last commit frame (0: nothing to replicate). */
  position(): { salt: string; end: number } | undefined {
    let fd: number;
    try {
      fd = fs.openSync(this.#file, 'r');
    } catch {
      return undefined;
    }
    try {
      const header = Buffer.alloc(32);
      if (fs.readSync(fd, header, 0, 32, 0) < 32) {
        this.#salt = '';
        return { salt: '', end: 0 };
      }
      const salt = header.subarray(16, 24).toString('hex');
      const pageSize = header.readUInt32BE(8) === 1 ? 65536 : header.readUInt32BE(8);
      if (salt !== this.#salt || pageSize !== this.#pageSize) {
        this.#salt = salt;
        this.#pageSize = pageSize;
        this.#next = 32;
        this.#end = 0;
      }
      const frame = Buffer.alloc(24);
      for (;;) {
        if (fs.readSync(fd, frame, 0, 24, this.#next) < 24) break;
        if (frame.subarray(8, 16).toString('hex') !== salt) break;
        const after = this.#next + 24 + pageSize;
        if (frame.readUInt32BE(4) !== 0) this.#end = after;
        this.#next = after;
      }
      return { salt, end: this.#end };
    } finally {
      fs.closeSync(fd);
    }
  }
}

export class LagMeter {
  readonly #metaDir: string;
  readonly #wal: WalScanner;
  readonly #startedAt: number;
  #samples: Sample[] = [];
  #replicated: ReplicatedPosition | undefined;
  /** `generation/index` → salt of that shadow WAL file. */
  #salts = new Map<string, string>();
  #recoveryPoint: number | undefined;
  #lastLag = 0;

  constructor(databasePath: string, now: number) {
    const file = path.resolve(databasePath);
    this.#metaDir = path.join(path.dirname(file), `.${path.basename(file)}-litestream`);
    this.#wal = new WalScanner(`${file}-wal`);
    this.#startedAt = now;
  }

  /** What Litestream reported written to the replica (kept across restarts of Litestream: the replica keeps it). */
  replicated(position: ReplicatedPosition): void {
    const r = this.#replicated;
    if (!r || r.generation !== position.generation || position.index > r.index || (position.index === r.index && position.end > r.end)) {
      this.#replicated = position;
    }
  }

  get position(): ReplicatedPosition | undefined {
    return this.#replicated;
  }

  /** The index of `salt` in the replicated generation's shadow WAL, read from the shadow file headers. */
  #indexOf(generation: string, salt: string): number | undefined {
    for (const [key, value] of this.#salts) if (value === salt && key.startsWith(`${generation}/`)) return parseInt(key.slice(17), 16);
    const dir = path.join(this.#metaDir, 'generations', generation, 'wal');
    let names: string[];
    try {
      names = fs.readdirSync(dir).filter((n) => /^[0-9a-f]{8}\.wal$/.test(n));
    } catch {
      return undefined;
    }
    let found: number | undefined;
    for (const name of names) {
      const key = `${generation}/${name.slice(0, 8)}`;
      if (!this.#salts.has(key)) {
        try {
          const fd = fs.openSync(path.join(dir, name), 'r');
          try {
            const header = Buffer.alloc(32);
            if (fs.readSync(fd, header, 0, 32, 0) === 32) this.#salts.set(key, header.subarray(16, 24).toString('hex'));
          } finally {
            fs.closeSync(fd);
          }
        } catch {
          continue;
        }
      }
      if (this.#salts.get(key) === salt) found = parseInt(name.slice(0, 8), 16);
    }
    return found;
  }

  #isReplicated(sample: Sample): boolean {
    const r = this.#replicated;
    if (!r) return false;
    if (sample.end === 0) return true;
    const index = this.#indexOf(r.generation, sample.salt);
    if (index === undefined) return false;
    return r.index > index || (r.index === index && r.end >= sample.end);
  }

  /**
   * Samples the local position now and returns the lag in milliseconds: 0 when the replica holds the
   * current position, else now minus the recovery point (since the start, while none is known yet).
   */
  measure(now: number): { lagMs: number; recoveryPoint: number | undefined } {
    const current = this.#wal.position();
    if (current) {
      const last = this.#samples.at(-1);
      if (last && last.salt === current.salt && last.end === current.end) last.seenAt = now;
      else this.#samples.push({ ...current, seenAt: now });
    }
    // Newest first: the first replicated sample settles every older one.
    for (let i = this.#samples.length - 1; i >= 0; i--) {
      if (!this.#isReplicated(this.#samples[i]!)) continue;
      this.#recoveryPoint = this.#samples[i]!.seenAt;
      this.#samples = this.#samples.slice(i);
      break;
    }
    if (this.#samples.length > 4096) this.#samples = this.#samples.filter((_, i, all) => i === 0 || i === all.length - 1 || i % 2 === 0);
    const caughtUp = this.#samples.length === 1 && this.#recoveryPoint === this.#samples[0]!.seenAt && this.#recoveryPoint === now;
    this.#lastLag = caughtUp ? 0 : now - (this.#recoveryPoint ?? this.#startedAt);
    return { lagMs: this.#lastLag, recoveryPoint: this.#recoveryPoint };
  }
}
