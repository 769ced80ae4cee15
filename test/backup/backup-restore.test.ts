/**
 * A backup taken while write-outs keep coming restores into an empty directory, and the restored
 * server serves every packet up to the point of the copy, digest-valid, and nothing after it.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { restoreBackup } from '../../src/backup/restore.ts';
import { modelWorld } from '../helpers/models.ts';
import { apiCall, digestHeader, writeOut } from '../helpers/people.ts';
import { startServer } from '../helpers/server.ts';
import { filesUnder, tmpDir } from '../helpers/tmp.ts';

test('a backup during a stream of write-outs restores: every packet up to a point, digest-valid, nothing after it half there', async (t) => {
  const backupDir = tmpDir(t);
  const server = await startServer(t, { MODELSHARE_BACKUP_DIR: backupDir, MODELSHARE_STORAGE_INLINE_MAX_BYTES: '256KiB' });
  const w = await modelWorld(t, server);
  const sent = new Map<number, Buffer>();
  let stop = false;
  // One writer keeps writing out, each packet against the head it knows.
  const writer = (async () => {
    let base = 0;
    while (!stop) {
      // Every other packet small enough to be kept inline in the database, the others in files.
      const bytes = crypto.randomBytes(base % 2 === 0 ? 20_000 + crypto.randomInt(200_000) : 300_000 + crypto.randomInt(100_000));
      const r = await writeOut(w.editor, w.modelId, base, bytes);
      t.is(r.status, 201, JSON.stringify(r.body));
      sent.set(++base, bytes);
    }
  })();
  while (sent.size < 8) await new Promise((r) => setTimeout(r, 10));
  const backup = await server.jobs.backups!.run();
  const sentDuringBackup = sent.size;
  while (sent.size < sentDuringBackup + 3) await new Promise((r) => setTimeout(r, 10));
  stop = true;
  await writer;

  // A new machine: the kept key file, an empty data directory.
  const keptKey = path.join(tmpDir(t), 'master.key');
  fs.copyFileSync(server.config.keys.key_file, keptKey);
  fs.chmodSync(keptKey, 0o600);
  const target = path.join(tmpDir(t), 'restored');
  const report = await restoreBackup(server.jobs.backups!.store, backup.id, target, server.stores.masterKeys);
  t.true(report.keysChecked);

  const restored = await startServer(t, { MODELSHARE_DATA_DIR: target, MODELSHARE_KEYS_KEY_FILE: keptKey });
  const viewer = apiCall(restored, w.viewer.token);
  const model = await viewer('GET', `/api/v1/models/${w.modelId}`);
  t.is(model.status, 200);
  const head = model.body['head'] as number;
  t.true(head >= 8, `the copy has the packets written before it started (head ${head})`);
  t.true(head < sent.size, 'packets written after the backup are not in it');
  const listed = await viewer('GET', `/api/v1/models/${w.modelId}/packets?after=0&limit=200`);
  t.deepEqual((listed.body['packets'] as { seq: number }[]).map((p) => p.seq), Array.from({ length: head }, (_, i) => i + 1));
  for (let seq = 1; seq <= head; seq++) {
    const got = await viewer('GET', `/api/v1/models/${w.modelId}/packets/${seq}`);
    t.is(got.status, 200);
    t.true(got.bytes.equals(sent.get(seq)!), `packet ${seq} restored byte for byte`);
    t.is(got.headers.get('content-digest'), digestHeader(sent.get(seq)!));
  }
  // Nothing half there: no packet row past the head, and exactly one blob file per blob row that is
  // not inline (the inline ones came back inside the database copy).
  const db = restored.stores.db;
  t.deepEqual(db.prepare('SELECT max(seq) AS s, count(*) AS n FROM packets').get(), { s: head, n: head });
  const rows = (db.prepare('SELECT id FROM blobs').all() as { id: string }[]).map((r) => r.id).sort();
  const inline = new Set((db.prepare('SELECT blob_id FROM blob_inline').all() as { blob_id: string }[]).map((r) => r.blob_id));
  t.true(inline.size > 0 && inline.size < rows.length, 'the restored packets include inline ones and files');
  t.deepEqual(filesUnder(path.join(target, 'blobs')).map((f) => path.basename(f)).sort(), rows.filter((id) => !inline.has(id)));
});

test('a second backup with no change copies no blob; one after new write-outs copies only those', async (t) => {
  const backupDir = tmpDir(t);
  const server = await startServer(t, { MODELSHARE_BACKUP_DIR: backupDir });
  const w = await modelWorld(t, server);
  // Packets above storage.inline_max_bytes, so each is a blob file.
  for (let base = 0; base < 4; base++) t.is((await writeOut(w.editor, w.modelId, base, crypto.randomBytes(300_000))).status, 201);
  const first = await server.jobs.backups!.run();
  t.like(first, { blobs: 4, copied_blobs: 4 });
  const stored = () => filesUnder(path.join(backupDir, 'blobs')).map((f) => [f, fs.statSync(f).mtimeMs]);
  const before = stored();
  const second = await server.jobs.backups!.run();
  t.like(second, { blobs: 4, copied_blobs: 0, copied_bytes: 0 });
  t.deepEqual(stored(), before, 'no stored blob was written again');
  t.is((await writeOut(w.editor, w.modelId, 4, crypto.randomBytes(300_000))).status, 201);
  t.like(await server.jobs.backups!.run(), { blobs: 5, copied_blobs: 1 });
  t.is((await server.jobs.backups!.store.list()).length, 3);
});

test('restore refuses a directory that is not empty, and leaves it as it was', async (t) => {
  const server = await startServer(t, { MODELSHARE_BACKUP_DIR: tmpDir(t) });
  const w = await modelWorld(t, server);
  t.is((await writeOut(w.editor, w.modelId, 0, crypto.randomBytes(1000))).status, 201);
  const backup = await server.jobs.backups!.run();
  const target = tmpDir(t);
  fs.writeFileSync(path.join(target, 'keep-me.txt'), 'precious');
  await t.throwsAsync(restoreBackup(server.jobs.backups!.store, backup.id, target, server.stores.masterKeys), { message: /is not empty/ });
  t.deepEqual(fs.readdirSync(target), ['keep-me.txt']);
  t.is(fs.readFileSync(path.join(target, 'keep-me.txt'), 'utf8'), 'precious');
});
