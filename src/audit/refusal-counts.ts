/**
 * Counts of routine refusals (a bogus bearer token, a failed sign-in, a rate-limit refusal) per
 * (action, reason, source, window), so that an attacker repeating one failure writes one counter, not
 * one audit row per request. The source address is personal data: only its keyed hash is stored,
 * enough to tell sources apart within the log and nothing more.
 */
import type { Db } from '../db/open.ts';

export interface RefusalKey {
  action: string;
  reason: string;
  /** The client address; hashed before it is stored. */
  source?: string | undefined;
}

export interface RefusalCount {
  action: string;
  reason: string;
  /** Hex keyed hash of the source address ('' when there was none). */
  source_hash: string;
  window_start: string;
  count: number;
  first_at: string;
  last_at: string;
}

interface CountRow extends Omit<RefusalCount, 'source_hash'> {
  source_hash: Buffer;
}

export class RefusalCounts {
  /** One hour: long enough to keep a flood to a few rows, short enough to show when it happened. */
  readonly defaultWindowMs = 3_600_000;
  readonly #hash: (source: string | undefined) => Buffer;
  readonly #sql;

  constructor(db: Db, hashSource: (source: string | undefined) => Buffer) {
    this.#hash = hashSource;
    this.#sql = {
      add: db.prepare<[string, string, Buffer, string, string, string], { count: number }>(
        `INSERT INTO audit_counts (action, reason, source_hash, window_start, count, first_at, last_at) VALUES (?, ?, ?, ?, 1, ?, ?)
         ON CONFLICT (action, reason, source_hash, window_start) DO UPDATE SET count = count + 1, last_at = excluded.last_at
         RETURNING count`,
      ),
      since: db.prepare<[string, number], CountRow>('SELECT * FROM audit_counts WHERE window_start >= ? ORDER BY count DESC, window_start DESC LIMIT ?'),
      pruneBefore: db.prepare<[string]>('DELETE FROM audit_counts WHERE window_start < ?'),
    };
  }

  /** Adds one; returns the count of this key in the window that `now` falls in. */
  add(key: RefusalKey, now: Date, windowMs = this.defaultWindowMs): number {
    const windowStart = new Date(Math.floor(now.getTime() / windowMs) * windowMs).toISOString();
    const at = now.toISOString();
    return this.#sql.add.get(key.action, key.reason, this.#hash(key.source), windowStart, at, at)!.count;
  }

  since(since: Date, limit: number): RefusalCount[] {
    return this.#sql.since.all(since.toISOString(), limit).map((row) => ({ ...row, source_hash: row.source_hash.toString('hex') }));
  }

  pruneBefore(before: Date): number {
    return this.#sql.pruneBefore.run(before.toISOString()).changes;
  }
}
