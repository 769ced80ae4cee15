/**
 * Builds the jobs of one process (the server, a command, a test) from its stores and services: the
 * runner with its leases, the backup service when backup.dir is set (checked here, at start), the
 * retention service, and the list of jobs.
 */
import { BackupService } from '../backup/backup-service.ts';
import { BackupStore, checkBackupDir } from '../backup/store.ts';
import { backupObjectStore } from '../backup/object-store.ts';
import type { S3BlobBackend } from '../blobs/s3-backend.ts';
import { version } from '../version.ts';
import type { Stores } from '../boot.ts';
import type { Clock } from '../clock.ts';
import type { Config } from '../config/options.ts';
import type { Db } from '../db/open.ts';
import type { Log } from '../log.ts';
import type { Services } from '../services.ts';
import { SharingRetention } from '../sharing/retention.ts';
import type { TlsService } from '../tls/service.ts';
import { auditJobs } from '../audit/jobs.ts';
import { backupStatusSource } from '../backup/status.ts';
import { NoticeDigest } from '../notices/digest.ts';
import { noticesFrom } from '../notices/notices.ts';
import { scheduledJobs } from './jobs.ts';
import { RetentionService } from './retention.ts';
import { JobRunner, type Job } from './runner.ts';

export interface Jobs {
  runner: JobRunner;
  list: Job[];
  backups: BackupService | undefined;
  retention: RetentionService;
  find(name: string): Job | undefined;
}

/** The newest audit entry (id and time): what the manifest of a backup calls the head of the audit log. */
export function newestAuditEntry(db: Db): () => unknown {
  const newest = db.prepare<[], { id: string; at: string }>('SELECT id, at FROM audit_events ORDER BY at DESC, id DESC LIMIT 1');
  return () => newest.get() ?? null;
}

/** The backup service of the configured backup.dir; throws a BackupError naming the problem with the directory. */
export function createBackups(config: Config, stores: Stores, clock: Clock, log: Log, auditHead: () => unknown = newestAuditEntry(stores.db)): BackupService {
  checkBackupDir(config.backup.dir, config.data_dir);
  const b = config.backup;
  return new BackupService({
    db: stores.db,
    blobs: stores.blobBackend,
    // With blobs in S3, their backup copies stay in the bucket (server-side copies).
    store: new BackupStore(b.dir, config.storage.backend === 's3' ? backupObjectStore(stores.blobBackend.backend('s3') as S3BlobBackend, config.storage.s3.prefix) : undefined),
    clock,
    log,
    serverVersion: version,
    auditHead,
    keep: { last: b.keep_last, daily: b.keep_daily, weekly: b.keep_weekly, monthly: b.keep_monthly },
  });
}

export function createJobs(d: { config: Config; stores: Stores; services: Services; clock: Clock; log: Log; tls?: (() => Promise<TlsService>) | undefined }): Jobs {
  const { config, stores, services, clock, log } = d;
  const metrics = services.metrics;
  const runner = new JobRunner(stores.db, clock, log, (report) => {
    if (report.outcome === 'ok' || report.outcome === 'failed') metrics.jobRan(report.job, report.outcome, report.ms / 1000);
    if (report.job === 'backup' && report.outcome === 'ok') metrics.backupSucceeded(clock.now());
  });
  // Each backup records the audit chain's head, and its manifest carries it (see audit verify --head).
  const backups = config.backup.dir === '' ? undefined : createBackups(config, stores, clock, log, () => services.audit.recordHead('backup'));
  if (backups && !services.statusSources.some((s) => s.name === 'last_backup')) services.statusSources.push(backupStatusSource(runner, clock));
  const sharing = new SharingRetention({ db: stores.db, keys: stores.keys, blobs: stores.blobs, history: services.sharing.history, audit: services.audit });
  const retention = new RetentionService({ config, db: stores.db, clock, audit: services.audit, blobs: stores.blobs, sharing, runner });
  const { orgs, sharing: models, mailer, audit } = services;
  // The organizations' notices (the certificate and backups are the server admins', not in the digest).
  const notices = noticesFrom(config, { db: stores.db, clock, orgs, models: models.routeDeps.repo, locks: models.locks, tls: undefined });
  const digest = mailer ? new NoticeDigest({ db: stores.db, clock, log, audit, orgs, notices, mailer, publicUrl: config.public_url }) : undefined;
  const list = [...scheduledJobs({ config, tls: d.tls, orgs, backups, retention, masterKeys: stores.masterKeys, digest }), ...auditJobs(services.audit, log, config, () => clock.now())];
  return { runner, list, backups, retention, find: (name) => list.find((j) => j.name === name) };
}
