/**
 * Backup benchmark, against `cp -a` of the same data directory measured in the same run:
 * - a full backup (database online copy + every blob, hashed) against `cp -a` (goal: at most 1.3×);
 * - an incremental backup with nothing new (goal: under 2 s, no blob copied), and with 100 new packets;
 * - verify (digests, integrity_check, every segment opened) and restore, with their times;
 * - peak RSS of each, which must stay bounded whatever the store size.
 * Default size: 256 MiB in 1,000 packets (a few minutes at most). BENCH_BACKUP_FULL=1 runs the size of
 * the issue, 1 GiB in 10,000 packets; BENCH_BACKUP_MIB and BENCH_BACKUP_PACKETS set any other.
 */
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { eachLimited } from '../src/backup/backup-service.ts';
import { restoreBackup } from '../src/backup/restore.ts';
import { verifyBackup } from '../src/backup/verify.ts';
import { openStores, type Stores } from '../src/boot.ts';
import { systemClock } from '../src/clock.ts';
import { loadConfig } from '../src/config/load.ts';
import { createBackups } from '../src/jobs/setup.ts';
import { createLogger } from '../src/log.ts';
import { measure, mib, type Measurement } from './measure.ts';

const full = process.env['BENCH_BACKUP_FULL'] === '1';
const totalMib = Number(process.env['BENCH_BACKUP_MIB'] ?? (full ? 1024 : 256));
const packets = Number(process.env['BENCH_BACKUP_PACKETS'] ?? (full ? 10_000 : 1_000));

async function addPackets(stores: Stores, keyId: string, count: number, size: number, pattern: Buffer): Promise<void> {
  await eachLimited(Array.from({ length: count }, (_, i) => i), 8, async (i) => {
    const offset = (i * 7919) % (pattern.length - size);
    const staged = await stores.blobs.put(Readable.from([pattern.subarray(offset, offset + size)]), { dataKeyId: keyId, maxBytes: size, expected: {} });
    stores.db.transaction(() => stores.blobs.commit(staged))();
  });
}

const line = (name: string, m: Measurement, extra = '') => `${name.padEnd(40)} ${m.seconds.toFixed(2).padStart(7)} s  peak RSS ${mib(m.peakRss).padStart(8)}${extra}`;

export async function backupBench(): Promise<void> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'modelshare-bench-backup-'));
  try {
    const dataDir = path.join(root, 'data');
    const backupDir = path.join(root, 'backups');
    fs.mkdirSync(backupDir);
    const config = loadConfig({ env: { MODELSHARE_DATA_DIR: dataDir, MODELSHARE_BACKUP_DIR: backupDir, MODELSHARE_LOG_LEVEL: 'error' } });
    const log = createLogger('error', 2);
    const stores = openStores(config, log);
    const keyId = stores.keys.create('model');
    const size = Math.floor((totalMib * 1024 * 1024) / packets);
    const pattern = crypto.randomBytes(Math.max(4 * size, 8 * 1024 * 1024));
    process.stdout.write(`\nbackup: ${packets} packets of ${(size / 1024).toFixed(0)} KiB (${totalMib} MiB) ${full ? '' : '(BENCH_BACKUP_FULL=1 for 1 GiB / 10,000)'}\n`);
    await addPackets(stores, keyId, packets, size, pattern);
    const backups = createBackups(config, stores, systemClock, log);

    const cp = await measure(0, async () => {
      const result = spawnSync('cp', ['-a', dataDir, path.join(root, 'cp-copy')]);
      if (result.status !== 0) throw new Error(`cp -a failed: ${result.stderr.toString()}`);
      spawnSync('sync');
    });
    process.stdout.write(`${line('baseline: cp -a of the data directory (+ sync)', cp)}\n`);
    let figures: Awaited<ReturnType<typeof backups.run>> | undefined;
    const first = await measure(0, async () => void (figures = await backups.run()));
    process.stdout.write(`${line('full backup', first, `  ${(first.seconds / cp.seconds).toFixed(2)}× cp -a (goal ≤ 1.3×), ${figures!.copied_blobs} blobs copied`)}\n`);
    const none = await measure(0, async () => void (figures = await backups.run()));
    process.stdout.write(`${line('incremental, nothing new', none, `  ${figures!.copied_blobs} blobs copied (goal: 0, under 2 s)`)}\n`);
    await addPackets(stores, keyId, 100, size, pattern);
    const some = await measure(0, async () => void (figures = await backups.run()));
    process.stdout.write(`${line('incremental, 100 new packets', some, `  ${figures!.copied_blobs} blobs copied`)}\n`);
    const id = figures!.id;
    let ok = false;
    const verified = await measure(0, async () => void (ok = (await verifyBackup(backups.store, id, stores.masterKeys)).ok));
    process.stdout.write(`${line('verify (digests + every segment opened)', verified, ok ? '' : '  FAILED')}\n`);
    const restored = await measure(0, async () => void (await restoreBackup(backups.store, id, path.join(root, 'restored'), stores.masterKeys)));
    process.stdout.write(`${line('restore into an empty directory', restored)}\n`);
    stores.close();
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}
