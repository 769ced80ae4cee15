/**
 * The scheduler (the only file that imports node-cron): runs each job of the list on its schedule
 * through the JobRunner, which holds the job's lease and records the run. On shutdown it stops
 * starting runs, gives a running job `graceMs` to finish, then asks it to stop at its next safe point
 * and waits for that.
 */
import cron, { type ScheduledTask } from 'node-cron';
import { ConfigError } from '../config/load.ts';
import type { Log } from '../log.ts';
import type { Job, JobRunner } from './runner.ts';

export type { Job } from './runner.ts';

/** Checks every schedule of the list; throws a ConfigError naming each bad key. */
export function checkSchedules(jobs: Job[], timeZone: string): void {
  const problems = jobs
    .filter((job) => job.schedule !== 'off' && !cron.validate(job.schedule))
    .map((job) => `${job.scheduleKey}: "${job.schedule}" is not a valid cron expression`);
  if (problems.length > 0) throw new ConfigError(problems);
  if (timeZone !== '') nextRun({ schedule: '0 0 * * *' } as Job, timeZone);
}

/** When the job runs next by its schedule, or null when it is off. */
export function nextRun(job: Job, timeZone: string): Date | null {
  if (job.schedule === 'off') return null;
  const task = cron.createTask(job.schedule, () => undefined, timeZone ? { timezone: timeZone } : {});
  try {
    return task.getNextRuns(1)[0] ?? null;
  } finally {
    void task.destroy();
  }
}

/** node-cron's own messages (a missed slot, say) go into the server's log, as JSON like the rest. */
function cronLogger(log: Log, job: string) {
  return {
    info: (message: string) => log.info({ job }, message),
    warn: (message: string) => log.warn({ job }, message),
    error: (message: string | Error) => log.error({ job, err: message }, 'scheduler error'),
    debug: (message: string | Error) => log.debug({ job }, String(message)),
  };
}

export interface Scheduler {
  /** Stops the schedule; waits up to `graceMs` for running jobs, then stops them at a safe point. */
  stop(graceMs: number): Promise<void>;
}

/** Starts every job on its schedule (those set to `off` run only by hand). */
export function startScheduler(jobs: Job[], runner: JobRunner, log: Log, timeZone: string): Scheduler {
  checkSchedules(jobs, timeZone);
  const stopping = new AbortController();
  const running = new Set<Promise<unknown>>();
  const tasks: ScheduledTask[] = jobs
    .filter((job) => job.schedule !== 'off')
    .map((job) =>
      cron.schedule(
        job.schedule,
        () => {
          if (stopping.signal.aborted) return;
          const run = runner.run(job, 'schedule', stopping.signal);
          running.add(run);
          void run.finally(() => running.delete(run));
          return run;
        },
        { name: job.name, noOverlap: true, logger: cronLogger(log, job.name), ...(timeZone ? { timezone: timeZone } : {}) },
      ),
    );
  log.info({ jobs: jobs.map((j) => `${j.name} (${j.schedule})`), time_zone: timeZone || 'server' }, 'scheduled jobs');
  return {
    async stop(graceMs) {
      for (const task of tasks) await task.destroy();
      if (running.size === 0) return;
      log.info({ jobs: running.size }, 'waiting for running jobs');
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
      await Promise.race([Promise.allSettled([...running]), timeout]);
      clearTimeout(timer);
      stopping.abort(new Error('the server is shutting down'));
      await Promise.allSettled([...running]);
    },
  };
}
