/**
 * The S3 blob backend against a real S3 API on loopback (fauxqs): only ciphertext in the bucket,
 * ranged reads of the sealed segments, an aborted upload leaves nothing, the orphan sweep by listing
 * after its grace period, an unreachable store answers 503 and the process lives on, and the
 * credentials never reach a log.
 */
import crypto from 'node:crypto';
import { Readable } from 'node:stream';
import test, { type ExecutionContext } from 'ava';
import { dumpConfig, loadConfig } from '../../src/config/load.ts';
import { sealedSize, segmentSize, tagSize } from '../../src/crypto/stream-aead.ts';
import { AppError } from '../../src/errors.ts';
import { createLogger } from '../../src/log.ts';
import { modelWorld } from '../helpers/models.ts';
import { digestHeader, person, writeOut, sha256 } from '../helpers/people.ts';
import { s3Env, sharedS3, startS3 } from '../helpers/s3.ts';
import { logCollector, startServer } from '../helpers/server.ts';
import { openTestStores } from '../helpers/stores.ts';
import { s3Backend } from '../../src/blobs/s3-backend.ts';
import { createS3Client } from '../../src/blobs/s3-client.ts';
import { runCommand } from '../helpers/spawn.ts';
import { servingProblems } from '../../src/config/validate.ts';
import { readAll } from '../helpers/blob-store.ts';

const hour = 3_600_000;

/** Stores whose blobs live in a fresh bucket; a small part size, so multipart uploads happen at 5 MiB. */
async function s3Stores(t: ExecutionContext) {
  const env: Record<string, string> = { ...(await s3Env()), MODELSHARE_STORAGE_S3_PART_SIZE: '5MiB' };
  const stores = openTestStores(t, env);
  return { ...stores, bucket: env['MODELSHARE_STORAGE_S3_BUCKET']!, s3: await sharedS3() };
}

async function put(stores: Awaited<ReturnType<typeof s3Stores>>, data: Buffer, expected = sha256(data)) {
  const dataKeyId = stores.keys.create('model');
  return stores.blobs.put(Readable.from([data]), { dataKeyId, maxBytes: 1 << 30, expected: { 'sha-256': expected } });
}

test('the bucket only ever holds ciphertext: a marker written through the API is in no object', async (t) => {
  const server = await startServer(t, await s3Env());
  const marker = 'PLAINTEXT-MARKER-7f3a91';
  const owner = person(server, 'Olive');
  const model = await owner.call('POST', '/api/v1/models', { json: { name: `Bridge ${marker}` } });
  t.is(model.status, 201);
  const packet = Buffer.from(`${marker} column C3 moved\n`.repeat(20_000));
  t.is((await writeOut(owner, String(model.body['id']), 0, packet)).status, 201);
  const objects = (await sharedS3()).objects(server.config.storage.s3.bucket);
  t.is(objects.length, 1);
  t.regex(objects[0]!.key, /^ms\/blobs\/[0-9a-f]{32}$/);
  t.is(objects[0]!.body.length, sealedSize(packet.length));
  for (const object of objects) {
    t.false(object.body.includes(marker), `${object.key} holds the marker in plaintext`);
    t.false(object.body.includes(packet.subarray(0, 64)), `${object.key} holds plaintext`);
  }
  const back = await owner.call('GET', `/api/v1/models/${String(model.body['id'])}/packets/1`);
  t.true(back.bytes.equals(packet));
});

test('a blob of many batches and several parts reads back byte for byte (the upload holds no buffer the pipeline reuses)', async (t) => {
  // Over three 5 MiB parts, streamed in 256 KiB chunks: the seal pipeline reuses its sealed batches
  // once a write resolves, while the SDK gathers a part from the chunks it was handed; a writer that
  // passed the pipeline's buffers on without copying them stored later batches in place of earlier ones.
  const stores = await s3Stores(t);
  const data = crypto.randomBytes(17 * 1024 * 1024 + 12_345);
  const chunks = Array.from({ length: Math.ceil(data.length / (256 * 1024)) }, (_, i) => data.subarray(i * 256 * 1024, (i + 1) * 256 * 1024));
  const dataKeyId = stores.keys.create('model');
  const staged = await stores.blobs.put(Readable.from(chunks), { dataKeyId, maxBytes: 1 << 30, expected: { 'sha-256': sha256(data) } });
  stores.db.transaction(() => stores.blobs.commit(staged))();
  t.true(stores.s3.requests.some((r) => r.method === 'PUT' && r.path.includes(staged.id)), 'the blob went to the bucket');
  const back = await readAll(stores.blobs.read(stores.blobs.info(staged.id)!));
  t.is(back.length, data.length);
  t.true(back.equals(data), 'the bytes read back are the bytes written');
});

test('ranged reads fetch the sealed segments the range touches, and give exactly the bytes asked for', async (t) => {
  const stores = await s3Stores(t);
  const data = crypto.randomBytes(1_000_003);
  const staged = await put(stores, data);
  stores.db.transaction(() => stores.blobs.commit(staged))();
  const info = stores.blobs.info(staged.id)!;
  for (const [start, end] of [[0, 0], [0, 1], [segmentSize - 3, segmentSize + 3], [5 * segmentSize, 9 * segmentSize + 17], [999_000, 1_000_003], [0, 1_000_003]] as const) {
    t.deepEqual(await readAll(stores.blobs.read(info, start, end)), data.subarray(start, end), `range ${start}-${end}`);
  }
  // Damage the last segment in the bucket: a range that does not touch it still reads (it was never
  // fetched), a range that does fails authentication.
  const object = stores.s3.objects(stores.bucket)[0]!;
  object.body[object.body.length - tagSize - 1]! ^= 0x01;
  t.deepEqual(await readAll(stores.blobs.read(info, 0, 2 * segmentSize)), data.subarray(0, 2 * segmentSize));
  await t.throwsAsync(readAll(stores.blobs.read(info, 1_000_000, 1_000_003)));
});

test('an upload refused after its first parts went out (wrong digest, too large) leaves no object and no multipart upload', async (t) => {
  const stores = await s3Stores(t);
  const data = crypto.randomBytes(12 * 1024 * 1024);
  const wrong = await t.throwsAsync(put(stores, data, sha256(Buffer.from('other'))), { instanceOf: AppError });
  t.is(wrong.code, 'digest_mismatch');
  const dataKeyId = stores.keys.create('model');
  const large = await t.throwsAsync(stores.blobs.put(Readable.from([data]), { dataKeyId, maxBytes: 11 * 1024 * 1024, expected: {} }), { instanceOf: AppError });
  t.is(large.code, 'payload_too_large');
  t.deepEqual(stores.s3.objects(stores.bucket), []);
  t.deepEqual(stores.s3.uploads(stores.bucket), []);
  // A staged blob whose transaction did not commit is removed by discard.
  const staged = await put(stores, data);
  t.is(stores.s3.objects(stores.bucket).length, 1);
  await stores.blobs.discard(staged);
  t.deepEqual(stores.s3.objects(stores.bucket), []);
});

test('the orphan sweep lists the bucket and removes, after the grace period only, unreferenced objects and abandoned uploads', async (t) => {
  const stores = await s3Stores(t);
  const kept = await put(stores, crypto.randomBytes(1000));
  stores.db.transaction(() => stores.blobs.commit(kept))();
  const orphan = await put(stores, crypto.randomBytes(1000));
  // An upload abandoned mid-way (the process died): a multipart upload with a part in, never completed.
  const abandoned = await stores.blobBackend.create(crypto.randomBytes(16).toString('hex'));
  await abandoned.write([crypto.randomBytes(6 * 1024 * 1024)]);
  const started = Date.now();
  while (stores.s3.uploads(stores.bucket).length === 0 && Date.now() - started < 10_000) await new Promise((r) => setTimeout(r, 20));
  t.is(stores.s3.uploads(stores.bucket).length, 1);

  t.deepEqual(await stores.blobs.sweep(hour), { staging: 0, orphans: 0 }, 'younger than the grace period: kept');
  t.is(stores.s3.objects(stores.bucket).length, 2);

  for (const object of stores.s3.objects(stores.bucket)) object.lastModified = new Date(Date.now() - 2 * hour);
  for (const upload of stores.s3.uploads(stores.bucket)) upload.initiated = new Date(Date.now() - 2 * hour);
  t.deepEqual(await stores.blobs.sweep(hour), { staging: 1, orphans: 1 });
  t.deepEqual(stores.s3.objects(stores.bucket).map((o) => o.key), [`ms/blobs/${kept.id}`]);
  t.deepEqual(stores.s3.uploads(stores.bucket), []);
  t.is(await stores.blobBackend.size(orphan.id), undefined);
  await abandoned.abort(); // its upload is gone already: no error
});

test('an unreachable object store answers 503 with Retry-After, /readyz says so, the process lives on, and service resumes', async (t) => {
  const s3 = await startS3();
  const bucket = s3.bucket();
  const secret = 'secret-access-key-that-must-never-be-logged';
  const env: Record<string, string> = { ...(await s3Env()), MODELSHARE_STORAGE_S3_ENDPOINT: s3.endpoint, MODELSHARE_STORAGE_S3_BUCKET: bucket, MODELSHARE_STORAGE_S3_SECRET_ACCESS_KEY: secret };
  const server = await startServer(t, env);
  const w = await modelWorld(t, server);
  const first = crypto.randomBytes(100_000);
  t.is((await writeOut(w.editor, w.modelId, 0, first)).status, 201);
  await s3.close();

  const write = await writeOut(w.editor, w.modelId, 1, crypto.randomBytes(100_000));
  t.is(write.status, 503);
  t.like(write.body, { code: 'service_unavailable' });
  t.is(write.headers.get('retry-after'), '30');
  const read = await w.viewer.call('GET', `/api/v1/models/${w.modelId}/packets/1`);
  t.is(read.status, 503);
  t.is(read.headers.get('retry-after'), '30');
  const ready = await server.fetch(`${server.url}/readyz`);
  t.is(ready.status, 503);
  t.like(await ready.json(), { checks: { blob_storage: 'failing' } });
  t.is((await server.fetch(`${server.url}/healthz`)).status, 200, 'the process serves on');
  t.is((await w.viewer.call('GET', `/api/v1/models/${w.modelId}/packets?after=0`)).body['head'], 1, 'nothing half-written');

  // The store comes back (empty, as the emulator keeps nothing): writes work again.
  const back = await startS3(s3.port);
  t.teardown(() => back.close());
  back.store.createBucket(bucket);
  t.is((await writeOut(w.editor, w.modelId, 1, crypto.randomBytes(1000))).status, 201);

  const logged = JSON.stringify(server.logs);
  t.true(server.logs.some((l) => l['operation'] !== undefined || l['s3_error'] !== undefined), 'the failures are logged');
  t.false(logged.includes(secret), 'the secret access key is not in the log');
  t.false(logged.includes(env['MODELSHARE_STORAGE_S3_ACCESS_KEY_ID']!), 'the access key id is not in the log');
});

test('credentials never appear in the config dump nor in a logged config', (t) => {
  const env = { MODELSHARE_STORAGE_BACKEND: 's3', MODELSHARE_STORAGE_S3_BUCKET: 'b', MODELSHARE_STORAGE_S3_ACCESS_KEY_ID: 'AKIA-NEVER-SHOWN', MODELSHARE_STORAGE_S3_SECRET_ACCESS_KEY: 'never-shown-secret' };
  const config = loadConfig({ env });
  const dump = dumpConfig(config).join('\n');
  t.regex(dump, /storage\.s3\.secret_access_key = \(set, hidden\)/);
  t.false(dump.includes('never-shown-secret'));
  t.false(dump.includes('AKIA-NEVER-SHOWN'));
  const { stream, lines } = logCollector();
  const log = createLogger('info', stream);
  log.info({ storage: config.storage }, 'config');
  log.info({ config: { storage: config.storage }, s3: config.storage.s3 }, 'nested');
  const text = JSON.stringify(lines);
  t.false(text.includes('never-shown-secret'));
  t.false(text.includes('AKIA-NEVER-SHOWN'));
});

test('a write-out through the API is digest-checked on S3 as on disk', async (t) => {
  const server = await startServer(t, await s3Env());
  const w = await modelWorld(t, server);
  const body = crypto.randomBytes(9 * 1024 * 1024);
  const res = await writeOut(w.editor, w.modelId, 0, body, { 'content-digest': digestHeader(crypto.randomBytes(4)) });
  t.is(res.status, 400);
  t.deepEqual((await sharedS3()).objects(server.config.storage.s3.bucket), []);
  t.deepEqual((await sharedS3()).uploads(server.config.storage.s3.bucket), []);
});

test('an s3 backend without a bucket, with a part under 5 MiB or half the credentials is refused by config check and by migrate', (t) => {
  const config = loadConfig({ env: { MODELSHARE_STORAGE_BACKEND: 's3', MODELSHARE_STORAGE_S3_PART_SIZE: '1MiB', MODELSHARE_STORAGE_S3_ACCESS_KEY_ID: 'only-the-id' } });
  const problems = servingProblems(config).join('\n');
  t.regex(problems, /storage\.s3\.bucket: required when storage\.backend is s3/);
  t.regex(problems, /storage\.s3\.part_size: must be at least 5MiB/);
  t.regex(problems, /set both/);
  t.deepEqual(servingProblems(loadConfig({ env: {} })), [], 'the fs default needs none of it');
  const missing = runCommand(['blobs', 'migrate']);
  t.is(missing.code, 2);
  t.regex(missing.stderr, /--to s3 or --to fs is required/);
  const unconfigured = runCommand(['blobs', 'migrate', '--to', 's3']);
  t.is(unconfigured.code, 2);
  t.regex(unconfigured.stderr, /storage\.s3\.bucket: required/);
});

test('a server-side copy over the single-copy limit goes in UploadPartCopy parts, whole, and leaves no upload', async (t) => {
  const stores = await s3Stores(t);
  const data = crypto.randomBytes(12 * 1024 * 1024 + 5);
  const staged = await put(stores, data);
  const live = s3Backend({ client: createS3Client(stores.config.storage.s3), bucket: stores.bucket, prefix: 'ms/', partSize: 5 * 1024 * 1024, queueSize: 2, maxSingleCopy: 1024 * 1024, copyPartSize: 5 * 1024 * 1024 });
  t.teardown(() => live.close());
  const before = stores.s3.requests.length;
  await live.copyTo(staged.id, 'ms/copies/one');
  const sent = stores.s3.requests.slice(before);
  t.is(sent.filter((r) => r.copy).length, 3, 'three part copies (5 + 5 + 2 MiB)');
  t.false(sent.some((r) => r.method === 'GET' && r.path.endsWith(staged.id)), 'nothing downloaded');
  const objects = stores.s3.objects(stores.bucket);
  const original = objects.find((o) => o.key === `ms/blobs/${staged.id}`)!;
  const copy = objects.find((o) => o.key === 'ms/copies/one')!;
  t.true(copy.body.equals(original.body));
  t.deepEqual(stores.s3.uploads(stores.bucket), []);
  await t.throwsAsync(live.copyTo(crypto.randomBytes(16).toString('hex'), 'ms/copies/two'), { instanceOf: AppError });
});
