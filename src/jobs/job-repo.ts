/** The `job_leases` and `job_runs` tables: who runs a job now, and what every run did. */
import type { Db } from '../db/open.ts';

export type RunOutcome = 'running' | 'ok' | 'failed' | 'skipped' | 'interrupted';
export type RunTrigger = 'schedule' | 'command';

export interface JobRun {
  id: number;
  job: string;
  trigger: RunTrigger;
  startedAt: string;
  endedAt: string | null;
  outcome: RunOutcome;
  summary: string | null;
  figures: Record<string, unknown> | null;
  error: string | null;
}

interface RunRow {
  id: number;
  job: string;
  trigger: RunTrigger;
  started_at: string;
  ended_at: string | null;
  outcome: RunOutcome;
  summary: string | null;
  figures: string | null;
  error: string | null;
}

export interface LeaseHolder {
  holder: string;
  job: string;
}

const toRun = (r: RunRow): JobRun => ({
  id: r.id,
  job: r.job,
  trigger: r.trigger,
  startedAt: r.started_at,
  endedAt: r.ended_at,
  outcome: r.outcome,
  summary: r.summary,
  figures: r.figures ? (JSON.parse(r.figures) as Record<string, unknown>) : null,
  error: r.error,
});

export class JobRepo {
  readonly #db: Db;
  readonly #sql;

  constructor(db: Db) {
    this.#db = db;
    this.#sql = {
      lease: db.prepare<[string], { holder: string; job: string; expires_ms: number }>('SELECT holder, job, expires_ms FROM job_leases WHERE name = ?'),
      upsertLease: db.prepare(
        'INSERT INTO job_leases (name, holder, job, acquired_at, expires_ms) VALUES (?, ?, ?, ?, ?) ' +
          'ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, job = excluded.job, acquired_at = excluded.acquired_at, expires_ms = excluded.expires_ms',
      ),
      renew: db.prepare('UPDATE job_leases SET expires_ms = ? WHERE name = ? AND holder = ?'),
      release: db.prepare('DELETE FROM job_leases WHERE name = ? AND holder = ?'),
      interruptRuns: db.prepare("UPDATE job_runs SET outcome = 'interrupted', ended_at = ?, error = 'the process running it ended' WHERE holder = ? AND outcome = 'running'"),
      insertRun: db.prepare('INSERT INTO job_runs (job, trigger, holder, started_at, outcome) VALUES (?, ?, ?, ?, ?)'),
      finishRun: db.prepare('UPDATE job_runs SET ended_at = ?, outcome = ?, summary = ?, figures = ?, error = ? WHERE id = ?'),
      lastRuns: db.prepare<[string, number], RunRow>('SELECT * FROM job_runs WHERE job = ? ORDER BY id DESC LIMIT ?'),
      purgeRuns: db.prepare("DELETE FROM job_runs WHERE started_at < ? AND outcome <> 'running'"),
    };
  }

  /**
   * Takes the lease `name` for `holder` unless a live holder has it. A holder that is gone (its lease
   * ran out, or `isGone` says its process ended) loses it, and its unfinished runs are marked
   * interrupted. One immediate transaction, so two processes never both get it.
   */
  acquire(name: string, holder: string, job: string, nowMs: number, ttlMs: number, isGone: (holder: string) => boolean): { ok: true } | { ok: false; held: LeaseHolder } {
    return this.#db.transaction(() => {
      const row = this.#sql.lease.get(name);
      if (row && row.holder !== holder) {
        if (row.expires_ms > nowMs && !isGone(row.holder)) return { ok: false as const, held: { holder: row.holder, job: row.job } };
        this.#sql.interruptRuns.run(new Date(nowMs).toISOString(), row.holder);
      }
      this.#sql.upsertLease.run(name, holder, job, new Date(nowMs).toISOString(), nowMs + ttlMs);
      return { ok: true as const };
    }).immediate();
  }

  /** Extends a held lease; false when it is no longer this holder's. */
  renew(name: string, holder: string, expiresMs: number): boolean {
    return this.#sql.renew.run(expiresMs, name, holder).changes === 1;
  }

  release(name: string, holder: string): void {
    this.#sql.release.run(name, holder);
  }

  startRun(job: string, trigger: RunTrigger, holder: string, at: string, outcome: RunOutcome = 'running'): number {
    return Number(this.#sql.insertRun.run(job, trigger, holder, at, outcome).lastInsertRowid);
  }

  finishRun(id: number, at: string, outcome: RunOutcome, summary: string | null, figures: Record<string, unknown> | null, error: string | null): void {
    this.#sql.finishRun.run(at, outcome, summary, figures ? JSON.stringify(figures) : null, error, id);
  }

  lastRuns(job: string, limit: number): JobRun[] {
    return this.#sql.lastRuns.all(job, limit).map(toRun);
  }

  /** Removes the records of runs started before `before`; returns how many. */
  purgeRuns(before: Date): number {
    return this.#sql.purgeRuns.run(before.toISOString()).changes;
  }
}
