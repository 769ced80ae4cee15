import { openStores } from '../boot.ts';
import { BlobMigrationError, migrateBlobs } from '../blobs/blob-migration.ts';
import { s3SettingProblems } from '../blobs/s3-settings.ts';
import { blobUses } from '../sharing/blob-uses.ts';
import type { Command } from './index.ts';
import { parse, setup } from './common.ts';

export const blobsVerifyCommand: Command = {
  summary: 'check every stored blob (file size, authentication of every segment, digest) and list the damaged ones',
  help:
    'Usage: modelshare blobs verify [--config FILE]\n\n' +
    'Reads every baseline and packet back from the blob storage, opens every encrypted segment and\n' +
    'compares the digest with the catalog. Damaged blobs are marked (downloads of them answer 500\n' +
    'blob_damaged before a byte is sent, and /readyz reports them) and listed, one a line, with the model\n' +
    'they belong to; restore them from a backup. A blob marked earlier that checks out again is cleared.\n' +
    'Safe while the server runs. Exit code 0 when every blob is intact, 1 when any is damaged.\n',
  async run(args) {
    const { values } = parse(args, {});
    const { config, log } = setup(values);
    const stores = openStores(config, log);
    try {
      const useOf = blobUses(stores.db);
      let checked = 0;
      let damaged = 0;
      for (const id of stores.blobs.ids()) {
        const blob = stores.blobs.info(id);
        if (!blob) continue; // removed while we were checking
        const use = useOf(id);
        const context: Record<string, string | number> = use ? { model_id: use.model_id, [`${use.kind}_seq`]: use.seq } : {};
        const result = await stores.blobs.verify(blob, context);
        checked++;
        if (!result.ok) {
          damaged++;
          const what = use ? `model ${use.model_id} ${use.kind} ${use.seq}` : 'not referred to by any model';
          process.stdout.write(`DAMAGED  ${id}  ${result.reason}  ${what}\n`);
        }
      }
      process.stdout.write(`checked ${checked} blob(s): ${damaged === 0 ? 'all intact' : `${damaged} damaged; restore them from a backup`}\n`);
      return damaged === 0 ? 0 : 1;
    } finally {
      stores.close();
    }
  },
};

export const blobsMigrateCommand: Command = {
  summary: 'move every blob to another backend (s3 or fs) while the server keeps serving',
  help:
    'Usage: modelshare blobs migrate --to s3|fs [--keep-source] [--config FILE]\n\n' +
    'Moves the sealed blobs to the other backend while the server runs: from the start, new blobs are\n' +
    'written to the target and reads fall back to the old backend; every blob is copied as it is\n' +
    '(still encrypted) and read back to check its size and SHA-256; once all are there, one database\n' +
    'transaction switches every server over, and the old copies are removed (kept with --keep-source).\n' +
    'Both backends must be configured (storage.s3.* for s3). Interrupted, it resumes where it stopped\n' +
    'when run again. Afterwards set storage.backend to the target: a server started with the old value\n' +
    'refuses to start.\n',
  async run(args) {
    const { values } = parse(args, { to: { type: 'string' }, 'keep-source': { type: 'boolean' } });
    const to = values.to;
    if (to !== 's3' && to !== 'fs') {
      process.stderr.write('modelshare blobs migrate: --to s3 or --to fs is required\n');
      return 2;
    }
    const { config, log } = setup(values);
    if (to === 's3') {
      const problems = s3SettingProblems(config.storage.s3);
      if (problems.length > 0) {
        process.stderr.write(`modelshare blobs migrate: the s3 backend is not configured:\n  ${problems.join('\n  ')}\n`);
        return 2;
      }
    }
    const stores = openStores(config, log);
    try {
      const report = await migrateBlobs(stores.db, stores.blobBackend, {
        to,
        keepSource: values['keep-source'] === true,
        log,
        onVerified: (_id, done) => {
          if (done % 100 === 0) process.stderr.write(`verified ${done} blob(s) on ${to}\n`);
        },
      });
      process.stdout.write(
        `moved the blobs from ${report.from} to ${report.to}: ${report.copied} copied and verified, ${report.alreadyThere} already there, ` +
          `${report.resumed} verified by an earlier run, ${report.removedFromSource} removed from ${report.from}.\n` +
          `Now set storage.backend: ${report.to} in the configuration (a server started with ${report.from} refuses to start).\n`,
      );
      return 0;
    } catch (error) {
      if (!(error instanceof BlobMigrationError)) throw error;
      process.stderr.write(`modelshare blobs migrate: ${error.message}\n`);
      return 1;
    } finally {
      stores.close();
    }
  },
};
