/**
 * Group commit. With synchronous=FULL every commit waits for an fsync of the WAL, and better-sqlite3
 * waits on the event loop; one commit per write-out caps a busy server at one fsync's worth of
 * write-outs and stalls everything else meanwhile. Units queued in the same turn of the event loop
 * (the uploads whose files became durable while the previous group was committing) are committed
 * together: one transaction, one fsync. Each unit runs in its own savepoint, so a unit that throws
 * rolls back alone, and every unit's promise settles only after the group is on disk.
 */
import type { Db } from './open.ts';

interface Unit {
  work: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

export class GroupCommit {
  readonly #db: Db;
  #queue: Unit[] = [];
  #scheduled = false;

  constructor(db: Db) {
    this.#db = db;
  }

  /** Runs `work` (synchronous, rows only) in the next group transaction. */
  run<T>(work: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ work, resolve: resolve as (value: unknown) => void, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  #flush(): void {
    const batch = this.#queue;
    this.#queue = [];
    this.#scheduled = false;
    const results: ({ ok: unknown } | { error: unknown })[] = [];
    try {
      this.#db.transaction(() => {
        for (const unit of batch) {
          try {
            // Nested: a savepoint, released or rolled back on its own.
            results.push({ ok: this.#db.transaction(unit.work)() });
          } catch (error) {
            results.push({ error });
          }
        }
      }).immediate();
    } catch (error) {
      for (const unit of batch) unit.reject(error);
      return;
    }
    batch.forEach((unit, i) => {
      const result = results[i]!;
      if ('ok' in result) unit.resolve(result.ok);
      else unit.reject(result.error);
    });
  }
}
