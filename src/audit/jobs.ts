/**
 * The audit log's scheduled work, for the job list (src/jobs/jobs.ts): record and log the chain head
 * every quarter hour (a truncated tail is then found, and the log line is a copy outside the
 * database), and remove entries older than the retention period behind a start anchor.
 */
import type { Job } from '../jobs/scheduler.ts';
import type { Log } from '../log.ts';
import type { AuditService } from './audit-service.ts';

export interface AuditJobOptions {
  /** Entries older than this are removed; 0 keeps everything. */
  retentionMs: number;
  now: () => Date;
}

export function auditJobs(audit: AuditService, log: Log, options: AuditJobOptions): Job[] {
  const jobs: Job[] = [
    {
      name: 'audit-head',
      schedule: '*/15 * * * *',
      run: async () => {
        const head = audit.recordHead('periodic');
        // The line operators keep: `modelshare audit verify --head SEQ:HASH` checks it later.
        log.info({ audit_head: { seq: head.seq, hash: head.hash, at: head.at } }, 'audit log head');
        return `head #${head.seq}`;
      },
    },
  ];
  if (options.retentionMs > 0) {
    jobs.push({
      name: 'audit-retention',
      schedule: '23 4 * * *',
      run: async () => `removed ${audit.prune(new Date(options.now().getTime() - options.retentionMs))} audit entries`,
    });
  }
  return jobs;
}
