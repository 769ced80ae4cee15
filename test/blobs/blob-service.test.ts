import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import test from 'ava';
import type { BlobInfo } from '../../src/blobs/blob-service.ts';
import { formatContentDigest, parseContentDigest } from '../../src/crypto/digest.ts';
import { headerSize, segmentSize, tagSize } from '../../src/crypto/stream-aead.ts';
import { AppError } from '../../src/errors.ts';
import { openTestStores } from '../helpers/stores.ts';
import { filesUnder } from '../helpers/tmp.ts';
import { readAll } from '../helpers/blob-store.ts';
import { sha256 } from '../helpers/people.ts';


/** Yields `data` in uneven chunks, as a socket would. */
function chunked(data: Buffer, sizes = [1000, 70_000, 13, 65_536, 200_000]): Readable {
  return Readable.from(
    (function* () {
      let offset = 0;
      for (let i = 0; offset < data.length; i++) {
        const n = sizes[i % sizes.length]!;
        yield data.subarray(offset, offset + n);
        offset += n;
      }
    })(),
  );
}

async function store(t: Parameters<typeof openTestStores>[0], data: Buffer, opts: { maxBytes?: number; workers?: string } = {}) {
  const s = openTestStores(t, { MODELSHARE_STORAGE_CRYPTO_WORKERS: opts.workers ?? '0' });
  const dataKeyId = s.keys.create('model');
  const staged = await s.blobs.put(chunked(data), { dataKeyId, maxBytes: opts.maxBytes ?? 1 << 30, expected: { 'sha-256': sha256(data) } });
  s.db.transaction(() => s.blobs.commit(staged))();
  return { ...s, staged, info: s.blobs.info(staged.id)!, dataKeyId };
}

// With storage.crypto_workers 1, blobs over 1 MiB are digested, sealed and opened on a worker thread.
for (const [size, workers] of [0, 1, segmentSize - 1, segmentSize, segmentSize + 1, 3 * segmentSize, 1_000_003, 3_000_007].flatMap((n) => [[n, '0'], [n, '1']] as const)) {
  test(`a blob of ${size} bytes round-trips with its digest (${workers} crypto workers)`, async (t) => {
    const data = crypto.randomBytes(size);
    const { blobs, info } = await store(t, data, { workers });
    t.is(info.size, size);
    t.deepEqual(info.digests['sha-256'], sha256(data));
    t.deepEqual(await readAll(blobs.read(info)), data);
  });
}

for (const workers of ['0', '1']) {
  test(`ranges read exactly the bytes asked for (${workers} crypto workers)`, async (t) => {
    const data = crypto.randomBytes(40 * segmentSize + 123);
    const { blobs, info } = await store(t, data, { workers });
    for (const [start, end] of [[0, 1], [segmentSize - 1, segmentSize + 1], [100, 3 * segmentSize], [5 * segmentSize, 38 * segmentSize + 5], [40 * segmentSize, data.length], [data.length - 1, data.length], [7, 7], [0, data.length]] as const) {
      t.deepEqual(await readAll(blobs.read(info, start, end)), data.subarray(start, end), `range ${start}-${end}`);
    }
  });
}

test('a damaged segment read on a crypto worker fails the read and marks the blob', async (t) => {
  const data = crypto.randomBytes(40 * segmentSize);
  const { blobs, info, dataDir } = await store(t, data, { workers: '1' });
  const file = blobFile(dataDir, info);
  const sealed = fs.readFileSync(file);
  sealed[headerSize + 20 * (segmentSize + tagSize) + 7]! ^= 1;
  fs.writeFileSync(file, sealed);
  await t.throwsAsync(readAll(blobs.read(info)), { message: /segment 20 does not open/ });
  t.is(blobs.damage.reasonFor(info.id), 'unauthentic');
});

test('sha-512 is checked and kept when the client sends it', async (t) => {
  const { blobs, keys } = openTestStores(t);
  const data = crypto.randomBytes(100_000);
  const expected = parseContentDigest(`sha-512=:${crypto.createHash('sha512').update(data).digest('base64')}:`);
  const staged = await blobs.put(chunked(data), { dataKeyId: keys.create('model'), maxBytes: 1e9, expected });
  t.deepEqual(staged.digests['sha-512'], expected['sha-512']);
  t.deepEqual(staged.digests['sha-256'], sha256(data));
  t.regex(formatContentDigest(staged.digests), /^sha-256=:[A-Za-z0-9+/]+=*:, sha-512=:[A-Za-z0-9+/]+=*:$/);
});

test('a wrong digest is refused and leaves nothing behind', async (t) => {
  const { blobs, keys, dataDir, db } = openTestStores(t);
  const data = crypto.randomBytes(300_000);
  const error = await t.throwsAsync(
    blobs.put(chunked(data), { dataKeyId: keys.create('model'), maxBytes: 1e9, expected: { 'sha-256': sha256(Buffer.from('other')) } }),
    { instanceOf: AppError },
  );
  t.is(error!.code, 'digest_mismatch');
  t.deepEqual(filesUnder(path.join(dataDir, 'blobs')), []);
  t.deepEqual(db.prepare('SELECT count(*) AS n FROM blobs').get(), { n: 0 });
});

test('a body over the limit is refused with 413 and leaves nothing behind', async (t) => {
  const { blobs, keys, dataDir } = openTestStores(t);
  const data = crypto.randomBytes(300_000);
  const error = await t.throwsAsync(blobs.put(chunked(data), { dataKeyId: keys.create('model'), maxBytes: 200_000, expected: { 'sha-256': sha256(data) } }), {
    instanceOf: AppError,
  });
  t.is(error!.status, 413);
  t.deepEqual(error!.extra, { limit: 200_000 });
  t.deepEqual(filesUnder(path.join(dataDir, 'blobs')), []);
});

for (const when of ['before the upload starts', 'in the middle']) {
  test(`a body that breaks off ${when} is refused and leaves nothing behind`, async (t) => {
    const { blobs, keys, dataDir } = openTestStores(t);
    const source = new Readable({ read() {} });
    source.push(crypto.randomBytes(100_000));
    const reset = () => source.destroy(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }));
    if (when === 'in the middle') source.once('data', () => setImmediate(reset));
    else reset();
    const error = await t.throwsAsync(blobs.put(source, { dataKeyId: keys.create('model'), maxBytes: 1e9, expected: { 'sha-256': sha256(Buffer.alloc(0)) } }), {
      instanceOf: AppError,
    });
    t.is(error!.code, 'request_incomplete');
    t.deepEqual(filesUnder(path.join(dataDir, 'blobs')), []);
  });
}

test('a staged blob is invisible until committed, and discard removes it', async (t) => {
  const { blobs, keys, dataDir } = openTestStores(t);
  const data = crypto.randomBytes(300_000); // above storage.inline_max_bytes: a file
  const staged = await blobs.put(chunked(data), { dataKeyId: keys.create('model'), maxBytes: 1e9, expected: { 'sha-256': sha256(data) } });
  t.is(blobs.info(staged.id), undefined);
  t.is(filesUnder(path.join(dataDir, 'blobs')).length, 1);
  await blobs.discard(staged);
  t.deepEqual(filesUnder(path.join(dataDir, 'blobs')), []);
});

function blobFile(dataDir: string, info: BlobInfo) {
  return path.join(dataDir, 'blobs', info.id.slice(0, 2), info.id);
}

test('tampering, truncation, reordering and a swapped file are all detected on read', async (t) => {
  const data = crypto.randomBytes(4 * segmentSize + 10);
  const { blobs, info, dataDir, keys } = await store(t, data);
  const file = blobFile(dataDir, info);
  const original = fs.readFileSync(file);
  const sealedSegment = segmentSize + tagSize;

  const flipped = Buffer.from(original);
  flipped[headerSize + sealedSegment + 5]! ^= 1;
  fs.writeFileSync(file, flipped);
  await t.throwsAsync(readAll(blobs.read(info)), { message: /segment 1 does not open/ });

  fs.writeFileSync(file, original.subarray(0, headerSize + 2 * sealedSegment));
  await t.throwsAsync(readAll(blobs.read(info)), { message: /shorter than its catalog|does not open/ });

  const swapped = Buffer.concat([
    original.subarray(0, headerSize),
    original.subarray(headerSize + sealedSegment, headerSize + 2 * sealedSegment),
    original.subarray(headerSize, headerSize + sealedSegment),
    original.subarray(headerSize + 2 * sealedSegment),
  ]);
  fs.writeFileSync(file, swapped);
  await t.throwsAsync(readAll(blobs.read(info)), { message: /segment 0 does not open/ });

  // A truncation exactly at a segment boundary: the now-final segment lacks the last flag.
  const shorterInfo = { ...info, size: 2 * segmentSize };
  fs.writeFileSync(file, original.subarray(0, headerSize + 2 * sealedSegment));
  await t.throwsAsync(readAll(blobs.read(shorterInfo)), { message: /segment 1 does not open/ });

  // Another blob's file under this blob's name (same data key): the blob id is bound into the key.
  const other = crypto.randomBytes(4 * segmentSize + 10);
  const staged = await blobs.put(chunked(other), { dataKeyId: info.dataKeyId, maxBytes: 1e9, expected: { 'sha-256': sha256(other) } });
  fs.copyFileSync(path.join(dataDir, 'blobs', staged.id.slice(0, 2), staged.id), file);
  await t.throwsAsync(readAll(blobs.read(info)), { message: /segment 0 does not open/ });
  void keys;
});

test('the sweep removes staging leftovers and unreferenced files, and keeps committed blobs', async (t) => {
  const data = crypto.randomBytes(300_000); // above storage.inline_max_bytes: files
  const { blobs, info, dataDir, keys } = await store(t, data);
  const orphan = await blobs.put(chunked(data), { dataKeyId: keys.create('model'), maxBytes: 1e9, expected: { 'sha-256': sha256(data) } });
  fs.writeFileSync(path.join(dataDir, 'blobs', 'staging', crypto.randomBytes(16).toString('hex')), 'partial');
  t.deepEqual(await blobs.sweep(60_000), { staging: 0, orphans: 0 });
  t.deepEqual(await blobs.sweep(0), { staging: 1, orphans: 1 });
  t.false(fs.existsSync(path.join(dataDir, 'blobs', orphan.id.slice(0, 2), orphan.id)));
  t.deepEqual(await readAll(blobs.read(info)), data);
});

test('Content-Digest parsing follows RFC 9530 and refuses what it cannot check', (t) => {
  const d = sha256(Buffer.from('x')).toString('base64');
  t.deepEqual(Object.keys(parseContentDigest(`sha-256=:${d}:`)), ['sha-256']);
  t.deepEqual(Object.keys(parseContentDigest(`md5=:AAAA:, sha-256=:${d}:`)), ['sha-256']);
  for (const bad of [undefined, '', 'md5=:AAAA:']) t.is(t.throws(() => parseContentDigest(bad), { instanceOf: AppError })!.code, 'digest_required');
  for (const bad of ['sha-256=abc', `sha-256=:${d.slice(4)}:`, 'sha-256=:!!:']) t.is(t.throws(() => parseContentDigest(bad), { instanceOf: AppError })!.code, 'bad_request');
});
