/**
 * The path the README documents: back up with the command, keep the key file apart, restore on a
 * new machine into an empty directory with that key file, start the server there.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { modelWorld } from '../helpers/models.ts';
import { digestHeader, writeOut } from '../helpers/people.ts';
import { startServer } from '../helpers/server.ts';
import { runCommand, spawnServer } from '../helpers/spawn.ts';
import { tmpDir } from '../helpers/tmp.ts';

test('backup run, restore --data-dir on a new machine with the kept key file, and the server there serves the same packets', async (t) => {
  const backupDir = tmpDir(t);
  const server = await startServer(t, { MODELSHARE_BACKUP_DIR: backupDir });
  const w = await modelWorld(t, server);
  const packets = [crypto.randomBytes(80_000), crypto.randomBytes(3)];
  for (const [base, bytes] of packets.entries()) t.is((await writeOut(w.editor, w.modelId, base, bytes)).status, 201);
  const backedUp = runCommand(['backup', 'run'], { MODELSHARE_DATA_DIR: server.dataDir, MODELSHARE_BACKUP_DIR: backupDir });
  t.is(backedUp.code, 0, backedUp.stderr);
  const id = /backup (\S+):/.exec(backedUp.stdout)![1]!;
  t.false(fs.readdirSync(path.join(backupDir, 'backups', id)).some((f) => f.includes('key')), 'no key in the backup');

  // The new machine has the backup volume and the key file kept apart, nothing else.
  const machine = tmpDir(t);
  const keptKey = path.join(machine, 'etc-modelshare', 'master.key');
  fs.mkdirSync(path.dirname(keptKey));
  fs.copyFileSync(server.config.keys.key_file, keptKey);
  fs.chmodSync(keptKey, 0o600);
  const dataDir = path.join(machine, 'data');
  // The same configuration as the old machine (no demo sign-in there either), with the kept key file.
  const env = { MODELSHARE_DATA_DIR: dataDir, MODELSHARE_KEYS_KEY_FILE: keptKey, MODELSHARE_BACKUP_DIR: backupDir, MODELSHARE_DEMO_ENABLED: 'off' };

  const withoutKey = runCommand(['restore', id, '--data-dir', dataDir], { ...env, MODELSHARE_KEYS_KEY_FILE: path.join(machine, 'nokey') });
  t.is(withoutKey.code, 0, withoutKey.stderr);
  t.regex(withoutKey.stdout, /NOT CHECKED: no master key found/);
  fs.rmSync(dataDir, { recursive: true });

  const restored = runCommand(['restore', id, '--data-dir', dataDir], env);
  t.is(restored.code, 0, restored.stderr);
  t.regex(restored.stdout, /every data key opens with the master key\(s\) of /);
  const again = runCommand(['restore', id, '--data-dir', dataDir], env);
  t.is(again.code, 1);
  t.regex(again.stderr, /is not empty/);

  const revived = await spawnServer(t, env);
  for (const [i, bytes] of packets.entries()) {
    const res = await revived.fetch(`${revived.url}/api/v1/models/${w.modelId}/packets/${i + 1}`, { headers: { authorization: `Bearer ${w.viewer.token}` } });
    t.is(res.status, 200, await res.clone().text());
    t.is(res.headers.get('content-digest'), digestHeader(bytes));
    t.true(Buffer.from(await res.arrayBuffer()).equals(bytes));
  }
  revived.child.kill('SIGTERM');
  await revived.exited;
});

test('backup.dir is checked at start: missing, or inside data_dir, stops the server naming the key', async (t) => {
  const dataDir = tmpDir(t);
  const missing = runCommand(['serve'], { MODELSHARE_DATA_DIR: dataDir, MODELSHARE_TLS_MODE: 'off', MODELSHARE_BACKUP_DIR: path.join(dataDir, '..', 'no-such-backup-dir') });
  t.is(missing.code, 1);
  t.regex(missing.stderr, /backup\.dir: .*no-such-backup-dir does not exist/);
  fs.mkdirSync(path.join(dataDir, 'backups'));
  const inside = runCommand(['serve'], { MODELSHARE_DATA_DIR: dataDir, MODELSHARE_TLS_MODE: 'off', MODELSHARE_BACKUP_DIR: path.join(dataDir, 'backups') });
  t.is(inside.code, 1);
  t.regex(inside.stderr, /backup\.dir: .* must lie outside data_dir/);
});
