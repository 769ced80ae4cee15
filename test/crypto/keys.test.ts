import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { newMasterKey } from '../../src/crypto/master-keys.ts';
import { openText, seal } from '../../src/crypto/sealed.ts';
import { openTestStores } from '../helpers/stores.ts';
import { runCommand, spawnServer } from '../helpers/spawn.ts';
import { tmpDir } from '../helpers/tmp.ts';

test('first start creates a 0600 key file and says loudly to back it up', (t) => {
  const { config, logs } = openTestStores(t);
  t.is(fs.statSync(config.keys.key_file).mode & 0o777, 0o600);
  t.true(logs.some((l) => l['level'] === 'warn' && /Back it up/.test(String(l['msg']))));
  t.false(JSON.stringify(logs).includes(fs.readFileSync(config.keys.key_file, 'utf8').split('\n').at(-2)!));
});

test('rotation re-wraps every data key and everything still opens', (t) => {
  const { keys, db, config } = openTestStores(t);
  const ids = [keys.singleton('personal'), keys.create('model'), keys.create('model')];
  const place = { table: 't', column: 'c', row: 'r' };
  const sealed = ids.map((id) => seal(keys, id, place, `secret under ${id}`));
  const before = keys.status();
  // Step one: the new key is in the file but wraps nothing until the operator has backed it up.
  const { newKeyId } = keys.beginRotation();
  const pending = keys.status();
  t.deepEqual(pending.masterKeys.map((k) => [k.wraps, k.primary, k.pending]), [[3, true, false], [0, false, true]]);
  t.is(keys.create('model') && keys.status().masterKeys[0]!.wraps, 4); // new data keys still go to the old key
  t.throws(() => keys.beginRotation(), { message: /is pending already: back up/ });
  // Step two: activated, it wraps everything.
  const { rewrapped } = keys.activateRotation();
  t.is(rewrapped, 4); // personal (made at start) and three model keys
  t.throws(() => keys.activateRotation(), { message: /has no pending master key/ });
  const after = keys.status();
  t.is(after.masterKeys.length, 2);
  t.deepEqual(after.masterKeys.map((k) => k.wraps), [0, 4]);
  t.is(after.masterKeys[1]!.id, newKeyId);
  t.not(newKeyId, before.masterKeys[0]!.id);
  // A fresh keyring (as after a restart) opens everything through the new master key.
  db.close();
  const reopened = openTestStores(t, {}, config.data_dir);
  ids.forEach((id, i) => t.is(openText(reopened.keys, place, sealed[i]!), `secret under ${id}`));
  t.deepEqual(reopened.keys.retireUnused(), [before.masterKeys[0]!.id]);
  t.is(reopened.keys.status().masterKeys.length, 1);
  ids.forEach((id, i) => t.is(openText(reopened.keys, place, sealed[i]!), `secret under ${id}`));
});

test('a supplied master key list re-wraps under its last key', (t) => {
  const [a, b] = [newMasterKey(), newMasterKey()];
  const dir = tmpDir(t);
  const first = openTestStores(t, { MODELSHARE_KEYS_MASTER_KEY: a.key.toString('base64') }, dir);
  const id = first.keys.create('model');
  const sealed = seal(first.keys, id, { table: 't', column: 'c', row: 'r' }, 'hello');
  first.close();
  const second = openTestStores(t, { MODELSHARE_KEYS_MASTER_KEY: `${a.key.toString('base64')}\n${b.key.toString('base64')}` }, dir);
  t.is(second.keys.rewrapAll(), 2); // the model key and the personal-data key
  second.close();
  const third = openTestStores(t, { MODELSHARE_KEYS_MASTER_KEY: b.key.toString('base64') }, dir);
  t.is(openText(third.keys, { table: 't', column: 'c', row: 'r' }, sealed), 'hello');
  t.false(fs.existsSync(path.join(dir, 'master.key')));
});

test('a missing master key is reported, not guessed around', (t) => {
  const dir = tmpDir(t);
  const first = openTestStores(t, {}, dir);
  const id = first.keys.create('model');
  first.close();
  const other = openTestStores(t, { MODELSHARE_KEYS_MASTER_KEY: newMasterKey().key.toString('base64') }, dir);
  t.throws(() => other.keys.get(id), { message: /is not in keys\.master_key/ });
  t.is(other.keys.status().orphaned[0]!.count, 2); // the model key and the personal-data key
});

test('`modelshare keys rotate`, then `--activate`, re-wraps while the server keeps serving', async (t) => {
  const dir = tmpDir(t);
  const env = { MODELSHARE_DATA_DIR: dir, MODELSHARE_LOG_LEVEL: 'warn' };
  const server = await spawnServer(t, { MODELSHARE_DATA_DIR: dir });
  const added = runCommand(['keys', 'rotate'], env);
  t.is(added.code, 0, added.stderr);
  t.regex(added.stdout, /new master key mk-[0-9a-f]{16} added to .*master\.key, pending: it wraps nothing yet\.\nBACK UP/);
  const waiting = runCommand(['keys', 'status'], env);
  t.regex(waiting.stdout, /wraps \d+ data key\(s\)  \(primary: wraps new keys\)\n.*wraps 0 data key\(s\)  \(pending/);
  const rotated = runCommand(['keys', 'rotate', '--activate'], env);
  t.is(rotated.code, 0, rotated.stderr);
  t.regex(rotated.stdout, /master key mk-[0-9a-f]{16} is now the primary one; re-wrapped \d+ data key\(s\)/);
  const status = runCommand(['keys', 'status'], env);
  t.is(status.code, 0, status.stderr);
  t.regex(status.stdout, /wraps 0 data key\(s\)\n.*\(primary: wraps new keys\)/);
  t.is((await server.fetch(`${server.url}/readyz`)).status, 200);
  server.child.kill('SIGTERM');
  t.deepEqual(await server.exited, { code: 0, signal: null });
});

test('a missing key file beside a database with data keys stops the start, naming the file, and makes no new key', (t) => {
  const dir = tmpDir(t);
  const first = openTestStores(t, {}, dir);
  first.keys.create('model');
  first.close();
  fs.rmSync(path.join(dir, 'master.key'));
  t.throws(() => openTestStores(t, {}, dir), { message: new RegExp(`the master key file ${path.join(dir, 'master.key')} \\(keys\\.key_file\\) is missing, but the database .* holds 2 data key\\(s\\)`) });
  t.false(fs.existsSync(path.join(dir, 'master.key')));
  const served = runCommand(['serve'], { MODELSHARE_DATA_DIR: dir, MODELSHARE_SERVER_PORT: '0' });
  t.is(served.code, 1);
  t.regex(served.stderr, /master\.key \(keys\.key_file\) is missing/);
  t.false(fs.existsSync(path.join(dir, 'master.key')));
});

test('read-only commands on a wrong data directory create nothing and say what is missing', (t) => {
  const dir = path.join(tmpDir(t), 'not-here');
  for (const command of [['keys', 'status'], ['certs', 'show']]) {
    const result = runCommand(command, { MODELSHARE_DATA_DIR: dir });
    t.is(result.code, 1, command.join(' '));
    t.regex(result.stderr, /there is no database at .*not-here\/modelshare\.db: is data_dir .* right\? Nothing was created/);
    t.false(fs.existsSync(dir), command.join(' '));
  }
  // A database without its key file: named, and no key made.
  const data = tmpDir(t);
  openTestStores(t, {}, data).close();
  fs.rmSync(path.join(data, 'master.key'));
  const before = fs.readdirSync(data).sort();
  for (const command of [['keys', 'status'], ['certs', 'show']]) {
    const result = runCommand(command, { MODELSHARE_DATA_DIR: data });
    t.is(result.code, 1, command.join(' '));
    t.regex(result.stderr, /the master key file .*master\.key \(keys\.key_file\) is missing/);
  }
  t.deepEqual(fs.readdirSync(data).sort(), before);
});

test('the key file is locked against two rotations at once; a stale lock is taken over', (t) => {
  const dir = tmpDir(t);
  const stores = openTestStores(t, {}, dir);
  const lock = path.join(dir, 'master.key.lock');
  fs.writeFileSync(lock, `${process.pid}\n`); // held by a live process: this one
  t.throws(() => stores.keys.beginRotation(), { message: /master\.key\.lock is held by process \d+: another key rotation is running/ });
  t.throws(() => stores.keys.retireUnused(), { message: /is held by process/ });
  t.is(stores.keys.status().masterKeys.length, 1);
  fs.writeFileSync(lock, '2147483646\n'); // no such process: a rotation that was killed
  const { newKeyId } = stores.keys.beginRotation();
  t.is(stores.keys.status().masterKeys[1]!.id, newKeyId);
  t.false(fs.existsSync(lock));
});
