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
  const { newKeyId, rewrapped } = keys.rotate();
  t.is(rewrapped, 3); // personal (made at start) and two model keys
  const after = keys.status();
  t.is(after.masterKeys.length, 2);
  t.deepEqual(after.masterKeys.map((k) => k.wraps), [0, 3]);
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

test('`modelshare keys rotate` re-wraps while the server keeps serving', async (t) => {
  const dir = tmpDir(t);
  const server = await spawnServer(t, { MODELSHARE_DATA_DIR: dir });
  const rotated = runCommand(['keys', 'rotate'], { MODELSHARE_DATA_DIR: dir, MODELSHARE_LOG_LEVEL: 'warn' });
  t.is(rotated.code, 0, rotated.stderr);
  t.regex(rotated.stdout, /new master key mk-[0-9a-f]{16}; re-wrapped \d+ data key\(s\)/);
  const status = runCommand(['keys', 'status'], { MODELSHARE_DATA_DIR: dir, MODELSHARE_LOG_LEVEL: 'warn' });
  t.is(status.code, 0, status.stderr);
  t.regex(status.stdout, /wraps 0 data key\(s\)\n.*\(primary: wraps new keys\)/);
  t.is((await server.fetch(`${server.url}/readyz`)).status, 200);
  server.child.kill('SIGTERM');
  t.deepEqual(await server.exited, { code: 0, signal: null });
});
