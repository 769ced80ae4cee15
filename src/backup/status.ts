/**
 * The status page's row for backups: the last backup run and the last verification, up when the
 * newest backup is recent and verified, degraded when the last run failed, none is recent or the
 * last verification failed.
 */
import type { Clock } from '../clock.ts';
import type { JobRunner } from '../jobs/runner.ts';
import type { StatusSource } from '../status/sources.ts';

const day = 86_400_000;

export function backupStatusSource(runner: JobRunner, clock: Clock): StatusSource {
  return {
    name: 'last_backup',
    check() {
      const last = runner.lastRuns('backup', 10).find((r) => r.outcome === 'ok' || r.outcome === 'failed' || r.outcome === 'interrupted');
      const verified = runner.lastRuns('backup-verify', 10).find((r) => r.outcome === 'ok' || r.outcome === 'failed');
      const details = { last_backup_at: last?.endedAt ?? null, last_outcome: last?.outcome ?? null, last_verified_at: verified?.endedAt ?? null, verification: verified?.outcome ?? null };
      if (!last) return { state: 'degraded', reason: 'no backup has run yet', details };
      if (last.outcome !== 'ok') return { state: 'degraded', reason: 'the last backup did not complete', details };
      if (clock.now().getTime() - new Date(last.endedAt ?? last.startedAt).getTime() > 2 * day) return { state: 'degraded', reason: 'the last backup is more than two days old', details };
      if (verified?.outcome === 'failed') return { state: 'degraded', reason: 'the last verification found damage', details };
      return { state: 'up', reason: verified ? 'backed up and verified' : 'backed up, not yet verified', details };
    },
  };
}
