/**
 * A `modelshare backup run` killed with SIGKILL in the middle leaves nothing that looks like a
 * backup; the next run takes over its lease, removes its leftovers and succeeds.
 */
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import test from 'ava';
import { BackupStore } from '../../src/backup/store.ts';
import { verifyBackup } from '../../src/backup/verify.ts';
import { projectRoot, runCommand } from '../helpers/spawn.ts';
import { openTestStores } from '../helpers/stores.ts';
import { filesUnder, tmpDir } from '../helpers/tmp.ts';

test('a backup killed mid-run leaves no backup, and the next run cleans up and succeeds', async (t) => {
  const dataDir = tmpDir(t);
  const backupDir = tmpDir(t);
  const env = { MODELSHARE_DATA_DIR: dataDir, MODELSHARE_BACKUP_DIR: backupDir };
  // Enough blob data that the copy takes a while: 48 blobs of 3 MiB.
  {
    const stores = openTestStores(t, {}, dataDir);
    const keyId = stores.keys.create('model');
    for (let i = 0; i < 48; i++) {
      const staged = await stores.blobs.put(Readable.from([crypto.randomBytes(3 * 1024 * 1024)]), { dataKeyId: keyId, maxBytes: 1 << 30, expected: {} });
      stores.db.transaction(() => stores.blobs.commit(staged))();
    }
    stores.close();
  }
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(projectRoot, 'src/main.ts'), 'backup', 'run'], {
    cwd: projectRoot,
    env: { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MODELSHARE_'))), ...env },
    stdio: 'ignore',
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  t.teardown(() => child.kill('SIGKILL'));
  // Kill it as soon as it has started copying blobs.
  const copied = () => filesUnder(path.join(backupDir, 'blobs')).length;
  while (copied() < 2) {
    if (child.exitCode !== null) t.fail('the backup ended before it could be killed');
    await new Promise((r) => setTimeout(r, 2));
  }
  child.kill('SIGKILL');
  await exited;

  const store = new BackupStore(backupDir);
  t.deepEqual(await store.list(), [], 'nothing looks like a backup');
  t.deepEqual(filesUnder(path.join(backupDir, 'backups')).filter((f) => f.endsWith('manifest.json')), []);
  t.is(runCommand(['backup', 'list'], env).stdout, `no backups in ${backupDir}\n`);

  const next = runCommand(['backup', 'run'], env);
  t.is(next.code, 0, next.stderr);
  t.regex(next.stdout, /^backup: backup \d{8}T\d{6}Z-[0-9a-f]{6}: 48 blobs/);
  const list = await store.list();
  t.is(list.length, 1);
  t.deepEqual(fs.readdirSync(path.join(backupDir, 'backups')), [list[0]!.id], 'the half-made backup directory is gone');
  t.deepEqual(fs.readdirSync(path.join(backupDir, 'blobs', 'staging')), []);
  const stores = openTestStores(t, {}, dataDir);
  t.like(await verifyBackup(store, list[0]!.id, stores.masterKeys), { ok: true, blobs: 48 });
  // The killed run is on record as interrupted: its lease was taken over from a process that is gone.
  t.deepEqual(stores.db.prepare("SELECT outcome FROM job_runs WHERE job = 'backup' ORDER BY id").all(), [{ outcome: 'interrupted' }, { outcome: 'ok' }]);
});
