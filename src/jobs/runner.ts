/**
 * Runs one job under its lease and records the run. The lease row makes the job exclusive across
 * processes: the server's scheduler and `modelshare jobs run` on the same database never run it
 * twice at once. A lease is renewed while its job runs; one whose process died (killed, crashed) is
 * taken over at once when the process is known to be gone, else when its time runs out.
 */
import crypto from 'node:crypto';
import os from 'node:os';
import type { Clock } from '../clock.ts';
import type { Db } from '../db/open.ts';
import type { Log } from '../log.ts';
import { JobRepo, type JobRun, type RunOutcome, type RunTrigger } from './job-repo.ts';

/** What a run did: a line for people and the log, and figures (counts, bytes) for the record. */
export interface JobResult {
  summary: string;
  figures?: Record<string, unknown>;
}

/** One job of the list. */
export interface Job {
  name: string;
  /** Cron expression (or `off`: only by hand), in the configured time zone. */
  schedule: string;
  /** The configuration key of the schedule, for error messages. */
  scheduleKey: string;
  /** Jobs with the same lease never run together (e.g. backup and the purges that remove blobs). Default: the name. */
  lease?: string;
  /** Does the work. Checks `signal` at safe points and stops there (throwing) once it is aborted. */
  run(signal: AbortSignal): Promise<string | JobResult>;
}

export interface RunReport {
  job: string;
  outcome: Exclude<RunOutcome, 'running'>;
  summary: string;
  figures: Record<string, unknown>;
  error: string | null;
  ms: number;
}

/** How long a lease lasts without renewal, and how often a running job renews it. */
const leaseTtlMs = 60_000;
const renewEveryMs = 15_000;
/** How often a scheduled run waiting for a lease held by another job looks again. */
const waitPollMs = 5_000;

/** True when `holder` names a process on this host that has ended. */
function processGone(holder: string): boolean {
  const [host, pid] = holder.split('/');
  if (host !== os.hostname() || !pid || Number(pid) === process.pid) return false;
  try {
    process.kill(Number(pid), 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

export class JobRunner {
  readonly #repo: JobRepo;
  readonly #clock: Clock;
  readonly #log: Log;
  /** This process, as lease holder: host/pid/random (the random part tells two runners of one process apart). */
  readonly holder = `${os.hostname()}/${process.pid}/${crypto.randomBytes(4).toString('hex')}`;

  /** Told of every finished run (metrics). */
  readonly #observe: ((report: RunReport) => void) | undefined;

  constructor(db: Db, clock: Clock, log: Log, observe?: (report: RunReport) => void) {
    this.#repo = new JobRepo(db);
    this.#clock = clock;
    this.#log = log;
    this.#observe = observe;
  }

  lastRuns(job: string, limit = 5): JobRun[] {
    return this.#repo.lastRuns(job, limit);
  }

  purgeRuns(before: Date): number {
    return this.#repo.purgeRuns(before);
  }

  /**
   * Runs `job` now and records the run; never throws. A run that finds its lease held is recorded
   * as skipped, except that a scheduled run waits (until `signal`) while another job of its lease
   * group runs. A failure is logged as an error; the schedule tries again at the next slot.
   */
  async run(job: Job, trigger: RunTrigger, signal: AbortSignal = new AbortController().signal): Promise<RunReport> {
    const lease = job.lease ?? job.name;
    const started = Date.now();
    const report = (outcome: RunReport['outcome'], summary: string, figures: Record<string, unknown> = {}, error: string | null = null): RunReport =>
      ({ job: job.name, outcome, summary, figures, error, ms: Date.now() - started });
    let acquired = this.#repo.acquire(lease, this.holder, job.name, Date.now(), leaseTtlMs, processGone);
    while (!acquired.ok && trigger === 'schedule' && acquired.held.job !== job.name && !signal.aborted) {
      await new Promise((resolve) => setTimeout(resolve, waitPollMs).unref());
      acquired = this.#repo.acquire(lease, this.holder, job.name, Date.now(), leaseTtlMs, processGone);
    }
    if (!acquired.ok) {
      const why = `not run: ${acquired.held.job} is running (${acquired.held.holder})`;
      this.#log.warn({ job: job.name, trigger, held_by: acquired.held }, 'job not run: its lease is held');
      const at = this.#clock.now().toISOString();
      const id = this.#repo.startRun(job.name, trigger, this.holder, at, 'skipped');
      this.#repo.finishRun(id, at, 'skipped', why, null, null);
      return report('skipped', why);
    }
    const runId = this.#repo.startRun(job.name, trigger, this.holder, this.#clock.now().toISOString());
    const renewal = setInterval(() => {
      if (!this.#repo.renew(lease, this.holder, Date.now() + leaseTtlMs)) this.#log.error({ job: job.name }, 'job lease lost while running');
    }, renewEveryMs);
    renewal.unref();
    let result: RunReport;
    try {
      const done = await job.run(signal);
      const { summary, figures = {} } = typeof done === 'string' ? { summary: done } : done;
      result = report('ok', summary, figures);
      this.#log.info({ job: job.name, trigger, outcome: summary, figures, ms: result.ms }, 'job ran');
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (signal.aborted) {
        result = report('interrupted', 'stopped at a safe point for shutdown', {}, message);
        this.#log.warn({ job: job.name, trigger, ms: result.ms }, 'job stopped for shutdown');
      } else {
        result = report('failed', 'failed', {}, message);
        this.#log.error({ job: job.name, trigger, err: error, ms: result.ms }, 'job failed');
      }
    } finally {
      clearInterval(renewal);
    }
    this.#repo.finishRun(runId, this.#clock.now().toISOString(), result.outcome, result.summary, result.figures, result.error);
    this.#observe?.(result);
    this.#repo.release(lease, this.holder);
    return result;
  }
}
