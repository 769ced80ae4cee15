/**
 * Backups with blobs in S3: every blob is copied inside the bucket (CopyObject to the backup prefix),
 * never downloaded and uploaded again; a second backup copies nothing; verify checks the copies
 * (and with the master key, every segment); a restore after the live objects are lost copies them
 * back inside the bucket, and the restored server serves every packet digest-valid.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { restoreBackup } from '../../src/backup/restore.ts';
import { verifyBackup } from '../../src/backup/verify.ts';
import { modelWorld } from '../helpers/models.ts';
import { apiCall, digestHeader, writeOut } from '../helpers/people.ts';
import { s3Env, sharedS3 } from '../helpers/s3.ts';
import { startServer } from '../helpers/server.ts';
import { filesUnder, tmpDir } from '../helpers/tmp.ts';

test('backups copy blobs server-side in the bucket, verify, and restore after the live objects are lost', async (t) => {
  const s3 = await sharedS3();
  const env = await s3Env();
  const bucket = env['MODELSHARE_STORAGE_S3_BUCKET']!;
  const backupDir = tmpDir(t);
  const server = await startServer(t, { ...env, MODELSHARE_BACKUP_DIR: backupDir });
  const w = await modelWorld(t, server);
  const sent: Buffer[] = [];
  for (let base = 0; base < 4; base++) {
    const bytes = crypto.randomBytes(50_000 + base * 100_000);
    t.is((await writeOut(w.editor, w.modelId, base, bytes)).status, 201);
    sent.push(bytes);
  }

  const before = s3.requests.length;
  const first = await server.jobs.backups!.run();
  t.like(first, { blobs: 4, copied_blobs: 4 });
  // Requests on objects (a key after the bucket); listings are on the bucket itself.
  const onObjects = (from: number) => s3.requests.slice(from).filter((r) => r.path.startsWith(`/${bucket}/`) && r.path.length > bucket.length + 2);
  const during = onObjects(before);
  t.deepEqual(during.filter((r) => r.method === 'GET' || (r.method === 'PUT' && !r.copy) || r.method === 'POST'), [], 'no blob was downloaded or uploaded');
  t.is(during.filter((r) => r.copy).length, 4, 'four server-side copies');
  const keys = s3.objects(bucket).map((o) => o.key).sort();
  t.is(keys.filter((k) => k.startsWith('ms/backups/blobs/')).length, 4);
  t.is(keys.filter((k) => k.startsWith('ms/blobs/')).length, 4);
  t.deepEqual(filesUnder(path.join(backupDir, 'blobs')), [], 'no blob bytes in backup.dir');
  const manifest = JSON.parse(fs.readFileSync(path.join(backupDir, 'backups', first.id, 'manifest.json'), 'utf8')) as { blob_store: string };
  t.is(manifest.blob_store, 's3');

  t.like(await server.jobs.backups!.run(), { blobs: 4, copied_blobs: 0, copied_bytes: 0 });
  const verified = await verifyBackup(server.jobs.backups!.store, first.id, server.stores.masterKeys);
  t.true(verified.ok, JSON.stringify(verified.problems));
  t.true(verified.decrypted);

  // A damaged copy is named.
  const copy = s3.objects(bucket).find((o) => o.key.startsWith('ms/backups/blobs/'))!;
  const original = copy.body;
  copy.body = Buffer.from(original);
  copy.body[copy.body.length - 3]! ^= 0x01;
  const damaged = await verifyBackup(server.jobs.backups!.store, first.id, server.stores.masterKeys);
  t.false(damaged.ok);
  t.true(damaged.problems.some((p) => p.file.endsWith(copy.key) && /does not decrypt/.test(p.problem)), JSON.stringify(damaged.problems));
  copy.body = original;

  // The live objects are lost; restore into a new data dir copies them back inside the bucket.
  for (const object of s3.objects(bucket).filter((o) => o.key.startsWith('ms/blobs/'))) s3.store.buckets.get(bucket)!.delete(object.key);
  const keptKey = path.join(tmpDir(t), 'master.key');
  fs.copyFileSync(server.config.keys.key_file, keptKey);
  fs.chmodSync(keptKey, 0o600);
  const target = path.join(tmpDir(t), 'restored');
  const restoreStarted = s3.requests.length;
  const report = await restoreBackup(server.jobs.backups!.store, first.id, target, server.stores.masterKeys);
  t.true(report.keysChecked);
  t.deepEqual(onObjects(restoreStarted).filter((r) => r.method === 'GET' || (r.method === 'PUT' && !r.copy)), [], 'restore copies inside the bucket');
  t.is(onObjects(restoreStarted).filter((r) => r.copy).length, 4);
  t.deepEqual(filesUnder(path.join(target, 'blobs')), []);

  const restored = await startServer(t, { ...env, MODELSHARE_DATA_DIR: target, MODELSHARE_KEYS_KEY_FILE: keptKey });
  const viewer = apiCall(restored, w.viewer.token);
  for (const [i, bytes] of sent.entries()) {
    const got = await viewer('GET', `/api/v1/models/${w.modelId}/packets/${i + 1}`);
    t.is(got.status, 200);
    t.is(digestHeader(got.bytes), digestHeader(bytes), `packet ${i + 1} restored`);
  }
});
