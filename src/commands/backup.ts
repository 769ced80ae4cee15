/** `modelshare backup run | list | verify [ID] | prune` and `modelshare restore ID --data-dir DIR`. */
import fs from 'node:fs';
import { restoreBackup } from '../backup/restore.ts';
import { backupObjectStore } from '../backup/object-store.ts';
import type { S3BlobBackend } from '../blobs/s3-backend.ts';
import { BackupError, BackupStore } from '../backup/store.ts';
import { verifyBackup, type VerifyReport } from '../backup/verify.ts';
import { openBlobBackend, openStores, type Stores } from '../boot.ts';
import { systemClock } from '../clock.ts';
import type { Config } from '../config/options.ts';
import { scheduledJobs } from '../jobs/jobs.ts';
import { JobRunner, type Job } from '../jobs/runner.ts';
import { createBackups } from '../jobs/setup.ts';
import type { Log } from '../log.ts';
import type { Command } from './index.ts';
import { printReport } from './jobs.ts';
import { existingMasterKeys, restoreFromReplicaCommand } from './replication.ts';
import { parse, setup } from './common.ts';

interface BackupContext {
  stores: Stores;
  runner: JobRunner;
  jobs: Job[];
  store: BackupStore;
}

/** The backup jobs of this data directory, run under the same leases as the server's. */
async function withBackups(config: Config, log: Log, work: (c: BackupContext) => Promise<number>): Promise<number> {
  if (config.backup.dir === '') throw new BackupError('backup.dir is not set: name the directory backups go to in the configuration');
  const stores = openStores(config, log);
  try {
    const backups = createBackups(config, stores, systemClock, log);
    const runner = new JobRunner(stores.db, systemClock, log);
    return await work({ stores, runner, jobs: scheduledJobs({ config, backups, masterKeys: stores.masterKeys }), store: backups.store });
  } finally {
    stores.close();
  }
}

function printVerify(report: VerifyReport): void {
  if (report.ok) {
    process.stdout.write(`backup ${report.id}: intact (${report.blobs} blobs, ${report.bytes} bytes${report.decrypted ? '; every data key and segment opened' : '; digests only, no master key'})\n`);
    return;
  }
  process.stdout.write(`backup ${report.id}: DAMAGED\n`);
  for (const p of report.problems) process.stdout.write(`  ${p.file}: ${p.problem}\n`);
}

export const backupRunCommand: Command = {
  summary: 'take a backup now into backup.dir (online: the server keeps serving)',
  help:
    'Usage: modelshare backup run [--config FILE]\n\n' +
    'Copies the database (SQLite online backup) and every blob not yet in backup.dir, then writes the manifest.\n' +
    'Runs under the same lease as the server\'s backup job, so the two never run at once.\n',
  async run(args) {
    const { values } = parse(args, {});
    const { config, log } = setup(values);
    return withBackups(config, log, async ({ runner, jobs }) => printReport(await runner.run(jobs.find((j) => j.name === 'backup')!, 'command')));
  },
};

export const backupListCommand: Command = {
  summary: 'list the backups in backup.dir',
  help: 'Usage: modelshare backup list [--config FILE]\n\nLists every complete backup, oldest first, with its size and what it copied.\n',
  async run(args) {
    const { values } = parse(args, {});
    const { config } = setup(values);
    if (config.backup.dir === '') throw new BackupError('backup.dir is not set');
    const list = await new BackupStore(config.backup.dir).list();
    if (list.length === 0) process.stdout.write(`no backups in ${config.backup.dir}\n`);
    for (const m of list) {
      process.stdout.write(`${m.id}  ${m.created_at}  ${m.blobs.length} blobs  ${m.stats.blob_bytes + m.database.size} bytes  (copied ${m.stats.copied_blobs} blobs, ${m.stats.copied_bytes} bytes)  server ${m.server_version}, schema ${m.schema_version}, keys ${m.master_key_ids.join(' ')}\n`);
    }
    return 0;
  },
};

export const backupVerifyCommand: Command = {
  summary: 'verify a backup (the newest by default): digests, integrity_check, and every segment with the master key',
  help:
    'Usage: modelshare backup verify [ID] [--config FILE]\n\n' +
    'Checks the manifest, the size and SHA-256 of every file, SQLite\'s integrity_check on the database copy and,\n' +
    'with the master key of the configuration, that every data key opens and every blob segment authenticates.\n' +
    'Names each damaged or missing file; exit code 1 when there is one.\n',
  async run(args) {
    const { values, positionals } = parse(args, {}, true);
    const { config, log } = setup(values);
    return withBackups(config, log, async ({ runner, store, stores }) => {
      const id = positionals[0] ?? (await store.list()).at(-1)?.id;
      if (!id) throw new BackupError(`there is no backup in ${store.dir}`);
      let report: VerifyReport | undefined;
      const job: Job = {
        name: 'backup-verify',
        schedule: 'off',
        scheduleKey: 'jobs.schedules.backup_verify',
        lease: 'storage',
        run: async () => {
          report = await verifyBackup(store, id, stores.masterKeys);
          if (!report.ok) throw new Error(`backup ${id} is damaged (${report.problems.length} problem(s))`);
          return { summary: `backup ${id} is intact`, figures: { id, blobs: report.blobs, bytes: report.bytes } };
        },
      };
      const run = await runner.run(job, 'command');
      if (report) printVerify(report);
      else return printReport(run);
      return report.ok ? 0 : 1;
    });
  },
};

export const backupPruneCommand: Command = {
  summary: 'remove the backups the retention policy (backup.keep_*) no longer keeps, and the blobs none needs',
  help: 'Usage: modelshare backup prune [--config FILE]\n\nApplies backup.keep_last, keep_daily, keep_weekly and keep_monthly, then removes every stored blob no remaining backup refers to.\n',
  async run(args) {
    const { values } = parse(args, {});
    const { config, log } = setup(values);
    return withBackups(config, log, async ({ runner, jobs }) => printReport(await runner.run(jobs.find((j) => j.name === 'backup-prune')!, 'command')));
  },
};

export const restoreCommand: Command = {
  summary: 'restore a backup into an empty directory (restore ID --data-dir DIR), or the database from the replica (restore --from-replica)',
  help:
    'Usage: modelshare restore ID --data-dir DIR [--from BACKUP_DIR] [--config FILE]\n' +
    '       modelshare restore --from-replica [--at TIME] --data-dir DIR [--config FILE]\n\n' +
    'Restores backup ID (see `backup list`) from backup.dir (or --from) into DIR, which must be empty or new,\n' +
    'checking every file\'s SHA-256 as it is copied and the database with integrity_check. With the master key of\n' +
    'the configuration (keys.key_file or keys.master_key) it also checks that every data key opens. The master key\n' +
    'is never in a backup: point keys.key_file at the kept key file, set data_dir to DIR, and start the server.\n\n' +
    'With --from-replica, the database comes from the replica of replication.* (Litestream), at its latest point or as\n' +
    'it was at TIME (RFC 3339, e.g. 2026-03-01T14:30:00Z), into DIR (which must hold no database; the blob mount and the\n' +
    'key file may be there). Then integrity_check, the data keys, and every blob the database references is looked\n' +
    'for in the configured blob storage; missing ones are listed and the exit code is 1.\n',
  async run(args) {
    if (args.includes('--from-replica')) return restoreFromReplicaCommand(args);
    const { values, positionals } = parse(args, { 'data-dir': { type: 'string' }, from: { type: 'string' } }, true);
    const { config } = setup(values);
    const id = positionals[0];
    const target = values['data-dir'];
    const from = values.from ?? config.backup.dir;
    if (!id || typeof target !== 'string') {
      process.stderr.write('modelshare: usage: modelshare restore ID --data-dir DIR\n');
      return 2;
    }
    if (!from) throw new BackupError('backup.dir is not set: name the backup directory with --from DIR');
    const keys = existingMasterKeys(config);
    // With blobs in S3, the blobs are copied back inside the bucket (server-side), not into DIR.
    const live = config.storage.backend === 's3' ? (openBlobBackend(config, undefined, 's3') as S3BlobBackend) : undefined;
    let report;
    try {
      report = await restoreBackup(new BackupStore(from, live && backupObjectStore(live, config.storage.s3.prefix)), id, target, keys);
    } finally {
      live?.close();
    }
    process.stdout.write(`restored backup ${report.id} into ${report.target}: ${report.blobs} blobs, ${report.bytes} bytes, ${live ? 'the database\'s digest checked, the blobs copied back inside the bucket and their sizes checked' : 'every digest checked'}\n`);
    if (report.keysChecked) process.stdout.write(`every data key opens with the master key(s) of ${keys!.description}\n`);
    else process.stdout.write(`NOT CHECKED: no master key found (${config.keys.key_file}). The backup needs master key(s) ${report.masterKeyIds.join(', ')}: point keys.key_file at the kept key file before starting the server.\n`);
    process.stdout.write(`next: set data_dir to ${report.target} and start the server (it applies any newer migrations)\n`);
    return 0;
  },
};
