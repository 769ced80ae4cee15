/**
 * The audit log's scheduled work, for the job list (src/jobs/jobs.ts): record and log the chain head
 * every quarter hour (a truncated tail is then found, and the log line is a copy outside the
 * database), and remove entries older than the retention period behind a start anchor.
 */
import type { Config } from '../config/options.ts';
import type { Job } from '../jobs/runner.ts';
import type { Log } from '../log.ts';
import type { AuditService } from './audit-service.ts';

export function auditJobs(audit: AuditService, log: Log, config: Config, now: () => Date): Job[] {
  const s = config.jobs.schedules;
  const jobs: Job[] = [
    {
      name: 'audit-head',
      schedule: s.audit_head,
      scheduleKey: 'jobs.schedules.audit_head',
      run: async () => {
        const head = audit.recordHead('periodic');
        // The line operators keep: `modelshare audit verify --head SEQ:HASH` checks it later.
        log.info({ audit_head: { seq: head.seq, hash: head.hash, at: head.at } }, 'audit log head');
        return { summary: `head #${head.seq}`, figures: { seq: head.seq } };
      },
    },
  ];
  const retentionMs = config.audit.retention;
  if (retentionMs > 0) {
    jobs.push({
      name: 'audit-retention',
      schedule: s.audit_retention,
      scheduleKey: 'jobs.schedules.audit_retention',
      run: async () => {
        const removed = audit.prune(new Date(now().getTime() - retentionMs));
        return { summary: `removed ${removed} audit entries`, figures: { removed } };
      },
    });
  }
  return jobs;
}
