/**
 * The scheduler (the only file that imports node-cron): runs each job of the list on its schedule, one
 * run at a time, and logs every run with its outcome and duration. A job is a plain function, so the
 * command line and the tests run the same code through `runJob`.
 */
import cron, { type ScheduledTask } from 'node-cron';
import type { Log } from '../log.ts';

/** One scheduled job. */
export interface Job {
  name: string;
  /** Cron expression (minute hour day-of-month month day-of-week), in the server's time zone. */
  schedule: string;
  /** Does the work; resolves to a short account of what it did, for the log. */
  run(): Promise<string>;
}

/** Runs a job once and logs the run; a failure is logged, never thrown, so the schedule goes on. */
export async function runJob(job: Job, log: Log): Promise<{ ok: boolean; outcome: string }> {
  const started = process.hrtime.bigint();
  const ms = () => Number((process.hrtime.bigint() - started) / 1000n) / 1000;
  try {
    const outcome = await job.run();
    log.info({ job: job.name, outcome, ms: ms() }, 'job ran');
    return { ok: true, outcome };
  } catch (error) {
    log.error({ job: job.name, err: error, ms: ms() }, 'job failed');
    return { ok: false, outcome: error instanceof Error ? error.message : String(error) };
  }
}

/** Starts every job on its schedule; `stop` ends the schedule (a run in progress finishes). */
export function startScheduler(jobs: Job[], log: Log): { stop(): Promise<void> } {
  const tasks: ScheduledTask[] = jobs.map((job) =>
    cron.schedule(job.schedule, () => runJob(job, log), { name: job.name, noOverlap: true }),
  );
  log.info({ jobs: jobs.map((j) => `${j.name} (${j.schedule})`) }, 'scheduled jobs');
  return {
    async stop() {
      for (const task of tasks) await task.destroy();
    },
  };
}
