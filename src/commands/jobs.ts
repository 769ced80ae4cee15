/** `modelshare jobs` and `modelshare jobs run NAME`: the scheduled jobs, their runs, and a run by hand. */
import { openStores, type Stores } from '../boot.ts';
import { systemClock } from '../clock.ts';
import type { Config } from '../config/options.ts';
import type { JobRun } from '../jobs/job-repo.ts';
import type { RunReport } from '../jobs/runner.ts';
import { nextRun } from '../jobs/scheduler.ts';
import { createJobs, type Jobs } from '../jobs/setup.ts';
import type { Log } from '../log.ts';
import { createServices } from '../services.ts';
import { TlsService } from '../tls/service.ts';
import type { Command } from './index.ts';
import { parse, setup } from './common.ts';

/** Opens the data directory and builds the same job list as the server; the TLS service starts only if a job needs it. */
export async function withJobs<T>(config: Config, log: Log, work: (jobs: Jobs, stores: Stores) => Promise<T>): Promise<T> {
  const stores = openStores(config, log);
  let tls: TlsService | undefined;
  try {
    const services = createServices(config, stores, systemClock, log, { withoutDemo: true });
    const startTls = config.tls.mode === 'off' ? undefined : async () => (tls ??= await TlsService.start({ config, db: stores.db, keys: stores.keys, clock: systemClock, log }));
    return await work(createJobs({ config, stores, services, clock: systemClock, log, tls: startTls }), stores);
  } finally {
    tls?.close();
    stores.close();
  }
}

function describeRun(run: JobRun): string {
  const took = run.endedAt ? `${((Date.parse(run.endedAt) - Date.parse(run.startedAt)) / 1000).toFixed(1)}s` : '';
  return `${run.startedAt}  ${run.outcome.padEnd(11)} ${took.padStart(7)}  ${run.trigger.padEnd(8)}  ${run.error ?? run.summary ?? ''}`;
}

/** Prints a run's report; resolves to the exit code (0 only when it ran and succeeded). */
export function printReport(report: RunReport): number {
  if (report.outcome === 'ok') {
    process.stdout.write(`${report.job}: ${report.summary} (${(report.ms / 1000).toFixed(1)}s)\n`);
    return 0;
  }
  process.stderr.write(`${report.job}: ${report.outcome}: ${report.error ?? report.summary}\n`);
  return 1;
}

export const jobsCommand: Command = {
  summary: 'list the scheduled jobs with their schedule, next run and last runs',
  help: 'Usage: modelshare jobs [--config FILE] [--runs N]\n\nLists every job, its schedule (jobs.schedules.*, in jobs.time_zone), its next run and its last N runs (default 3).\n',
  async run(args) {
    const { values } = parse(args, { runs: { type: 'string' } });
    const { config, log } = setup(values);
    const runs = Number(values.runs ?? 3);
    return withJobs(config, log, async (jobs) => {
      for (const job of jobs.list) {
        const next = nextRun(job, config.jobs.time_zone);
        process.stdout.write(`${job.name}\n  schedule  ${job.schedule}${config.jobs.time_zone ? ` (${config.jobs.time_zone})` : ''}   next run  ${next ? next.toISOString() : 'off (by hand only)'}\n`);
        const last = jobs.runner.lastRuns(job.name, runs);
        if (last.length === 0) process.stdout.write('  no runs yet\n');
        for (const run of last) process.stdout.write(`  ${describeRun(run)}\n`);
      }
      return 0;
    });
  },
};

export const jobsRunCommand: Command = {
  summary: 'run one job now and print what it did (refused while the same job, or one of its lease, runs)',
  help: 'Usage: modelshare jobs run NAME [--config FILE]\n\nRuns the job now, as the schedule would, and prints what it did. Exit code 1 when it failed or was already running.\n',
  async run(args) {
    const { values, positionals } = parse(args, {}, true);
    const { config, log } = setup(values);
    const name = positionals[0];
    return withJobs(config, log, async (jobs) => {
      const job = name ? jobs.find(name) : undefined;
      if (!job) {
        process.stderr.write(`modelshare: ${name ? `there is no job "${name}"` : 'name a job'}; the jobs are: ${jobs.list.map((j) => j.name).join(', ')}\n`);
        return 2;
      }
      return printReport(await jobs.runner.run(job, 'command'));
    });
  },
};
