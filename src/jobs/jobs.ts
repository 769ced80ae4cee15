/**
 * Every scheduled job, in one list: what runs when (the schedules come from `jobs.schedules.*`).
 * Each entry calls a domain's plain function, so `modelshare jobs run NAME` and the tests run the
 * same code as the schedule. Jobs that remove blob files and the backup jobs share the `storage`
 * lease: no purge can remove a file a running backup still has to copy.
 */
import { verifyBackup } from '../backup/verify.ts';
import type { BackupService } from '../backup/backup-service.ts';
import type { Config } from '../config/options.ts';
import type { MasterKeySource } from '../crypto/master-keys.ts';
import type { NoticeDigest } from '../notices/digest.ts';
import type { OrganizationsService } from '../orgs/service.ts';
import type { TlsService } from '../tls/service.ts';
import type { RetentionService } from './retention.ts';
import type { Job } from './runner.ts';

export interface JobDeps {
  config: Config;
  /** The TLS service, started when first needed; absent when tls.mode is off. */
  tls?: (() => Promise<TlsService>) | undefined;
  /** Absent for callers that run no organization jobs. */
  orgs?: OrganizationsService | undefined;
  /** Absent when backup.dir is not set. */
  backups?: BackupService | undefined;
  retention?: RetentionService | undefined;
  /** For the verification of backups (every segment opened). */
  masterKeys?: MasterKeySource | undefined;
  /** Absent where no mail relay is configured. */
  digest?: NoticeDigest | undefined;
}

export function scheduledJobs(deps: JobDeps): Job[] {
  const s = deps.config.jobs.schedules;
  const at = (key: keyof typeof s) => ({ schedule: s[key], scheduleKey: `jobs.schedules.${key}` });
  const jobs: Job[] = [];
  // Renews the managed certificate when due (and within the hour of a missed run), picks up changed
  // certificate files and imported certificates, and logs expiry warnings.
  const tls = deps.tls;
  if (tls) jobs.push({ name: 'tls-renewal', ...at('tls_renewal'), run: async () => (await tls()).refresh() });
  // Invitations that expired or were answered more than 30 days ago are deleted (with their sealed addresses).
  const orgs = deps.orgs;
  if (orgs) jobs.push({ name: 'invitation-retention', ...at('invitation_retention'), run: async () => `deleted ${orgs.invitations.purge()} old invitations` });
  const backups = deps.backups;
  if (backups) {
    jobs.push({
      name: 'backup',
      ...at('backup'),
      lease: 'storage',
      run: async (signal) => {
        const f = await backups.run(signal);
        return { summary: `backup ${f.id}: ${f.blobs} blobs, copied ${f.copied_blobs} new (${f.copied_bytes} bytes)`, figures: { ...f } };
      },
    });
    jobs.push({
      name: 'backup-verify',
      ...at('backup_verify'),
      lease: 'storage',
      run: async () => {
        const newest = (await backups.store.list()).at(-1);
        if (!newest) return 'no backup to verify';
        const report = await verifyBackup(backups.store, newest.id, deps.masterKeys);
        if (!report.ok) throw new Error(`backup ${newest.id} is damaged: ${report.problems.map((p) => `${p.file}: ${p.problem}`).join('; ')}`);
        return { summary: `backup ${newest.id} is intact (${report.blobs} blobs${report.decrypted ? ', every segment opened' : ''})`, figures: { id: newest.id, blobs: report.blobs, bytes: report.bytes } };
      },
    });
    jobs.push({
      name: 'backup-prune',
      ...at('backup_prune'),
      lease: 'storage',
      run: async () => {
        const p = await backups.prune();
        return { summary: `kept ${p.kept} backups, removed ${p.removed.length}, and ${p.removed_blobs} blobs no backup needs`, figures: { kept: p.kept, removed: p.removed.length, removed_blobs: p.removed_blobs, removed_bytes: p.removed_bytes } };
      },
    });
  }
  // Organization admins get an e-mail of their notices when one is new (off unless scheduled).
  const digest = deps.digest;
  if (digest) jobs.push({ name: 'notice-digest', ...at('notice_digest'), run: () => digest.run() });
  const retention = deps.retention;
  if (retention) {
    jobs.push({ name: 'retention', ...at('retention'), lease: 'storage', run: (signal) => retention.run(signal) });
    jobs.push({ name: 'blob-sweep', ...at('blob_sweep'), run: () => retention.sweepBlobs() });
  }
  return jobs;
}
