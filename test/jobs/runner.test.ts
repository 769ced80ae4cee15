/**
 * Jobs: a lease keeps a job from overlapping itself, across runners and processes (the command line
 * beside the server); every run is recorded; a failure is logged and the next run goes ahead;
 * shutdown stops a running job at a safe point.
 */
import test from 'ava';
import { systemClock } from '../../src/clock.ts';
import { createLogger } from '../../src/log.ts';
import { JobRunner, type Job } from '../../src/jobs/runner.ts';
import { startScheduler } from '../../src/jobs/scheduler.ts';
import { logCollector, startServer } from '../helpers/server.ts';
import { runCommand } from '../helpers/spawn.ts';
import { openTestStores } from '../helpers/stores.ts';
import { tmpDir } from '../helpers/tmp.ts';

function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

function job(name: string, run: Job['run'], lease?: string): Job {
  return { name, schedule: 'off', scheduleKey: `jobs.schedules.${name}`, lease, run };
}

test('a job never overlaps itself: a second runner on the same database is refused while the first runs', async (t) => {
  const { db } = openTestStores(t);
  const { stream, lines } = logCollector();
  const log = createLogger('info', stream);
  const server = new JobRunner(db, systemClock, log);
  const command = new JobRunner(db, systemClock, log);
  const started = gate();
  const release = gate();
  const slow = job('backup', async () => {
    started.open();
    await release.opened;
    return 'done';
  });
  const first = server.run(slow, 'schedule');
  await started.opened;
  const second = await command.run(slow, 'command');
  t.like(second, { outcome: 'skipped' });
  t.regex(second.summary, /^not run: backup is running/);
  // Another job of the same lease group is refused as well.
  t.like(await command.run(job('retention', async () => 'purged', 'backup'), 'command'), { outcome: 'skipped' });
  release.open();
  t.like(await first, { outcome: 'ok', summary: 'done' });
  t.like(await command.run(slow, 'command'), { outcome: 'ok' }, 'free again once the first run ended');
  t.deepEqual(server.lastRuns('backup').map((r) => [r.trigger, r.outcome]), [['command', 'ok'], ['command', 'skipped'], ['schedule', 'ok']]);
  t.true(lines.some((l) => l['msg'] === 'job not run: its lease is held' && l['level'] === 'warn'));
});

test('a failed run is recorded and logged as an error, and the next run goes ahead', async (t) => {
  const { db } = openTestStores(t);
  const { stream, lines } = logCollector();
  const runner = new JobRunner(db, systemClock, createLogger('info', stream));
  let fail = true;
  const flaky = job('retention', async () => {
    if (fail) throw new Error('disk full');
    return { summary: 'purged 3 sessions', figures: { sessions: 3 } };
  });
  t.like(await runner.run(flaky, 'schedule'), { outcome: 'failed', error: 'disk full' });
  t.true(lines.some((l) => l['level'] === 'error' && l['msg'] === 'job failed' && l['job'] === 'retention'));
  fail = false;
  t.like(await runner.run(flaky, 'schedule'), { outcome: 'ok', figures: { sessions: 3 } });
  const [last, failed] = runner.lastRuns('retention');
  t.like(last, { outcome: 'ok', summary: 'purged 3 sessions', figures: { sessions: 3 }, error: null });
  t.like(failed, { outcome: 'failed', error: 'disk full' });
  t.truthy(failed!.endedAt);
});

test('shutdown stops a running job at its next safe point, and the run is recorded as interrupted', async (t) => {
  const { db } = openTestStores(t);
  const runner = new JobRunner(db, systemClock, createLogger('info', logCollector().stream));
  const started = gate();
  let steps = 0;
  const long: Job = {
    name: 'backup',
    schedule: '* * * * * *', // every second
    scheduleKey: 'jobs.schedules.backup',
    run: async (signal) => {
      started.open();
      for (;;) {
        signal.throwIfAborted(); // the safe point, between two pieces of work
        steps++;
        await new Promise((r) => setTimeout(r, 10));
      }
    },
  };
  const scheduler = startScheduler([long], runner, createLogger('info', logCollector().stream), '');
  await started.opened;
  await scheduler.stop(50);
  const stoppedAt = steps;
  await new Promise((r) => setTimeout(r, 50));
  t.is(steps, stoppedAt, 'no work after stop() resolved');
  t.like(runner.lastRuns('backup')[0], { outcome: 'interrupted' });
  t.deepEqual(db.prepare('SELECT count(*) AS n FROM job_leases').get(), { n: 0 }, 'the lease is released');
});

test('`modelshare jobs run` refuses while the server runs the same lease, and `modelshare jobs` lists runs', async (t) => {
  const backupDir = tmpDir(t);
  const server = await startServer(t, { MODELSHARE_BACKUP_DIR: backupDir, MODELSHARE_TLS_MODE: 'off' });
  const env = { MODELSHARE_DATA_DIR: server.dataDir, MODELSHARE_BACKUP_DIR: backupDir, MODELSHARE_TLS_MODE: 'off' };
  const started = gate();
  const release = gate();
  const holding = server.jobs.runner.run(job('retention', async () => {
    started.open();
    await release.opened;
    return 'purged nothing';
  }, 'storage'), 'schedule');
  await started.opened;
  const refused = runCommand(['jobs', 'run', 'backup'], env);
  t.is(refused.code, 1);
  t.regex(refused.stderr, /backup: skipped: not run: retention is running/);
  release.open();
  await holding;
  const ran = runCommand(['jobs', 'run', 'backup'], env);
  t.is(ran.code, 0, ran.stderr);
  t.regex(ran.stdout, /^backup: backup \S+: 0 blobs/);
  const listed = runCommand(['jobs'], env);
  t.is(listed.code, 0, listed.stderr);
  t.regex(listed.stdout, /^backup\n  schedule  23 2 \* \* \*   next run  \d{4}-\d\d-\d\dT02:23:00\.000Z\n  \S+  ok .*command .*backup .*\n  \S+  skipped .*not run: retention is running/m);
  t.regex(listed.stdout, /^retention\n/m);
  t.is(runCommand(['jobs', 'run', 'nope'], env).code, 2);
});
