/**
 * Small blobs kept inline in the database (storage.inline_max_bytes): sealed exactly like a blob
 * file, stored with the catalog row in the caller's transaction, and read, ranged, verified,
 * damage-checked and removed like any other blob, with no file in the blob store.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import test, { type ExecutionContext } from 'ava';
import { segmentSize } from '../../src/crypto/stream-aead.ts';
import { openTestStores } from '../helpers/stores.ts';
import { filesUnder } from '../helpers/tmp.ts';
import { readAll } from '../helpers/blob-store.ts';
import { sha256 } from '../helpers/people.ts';

const limit = 256 * 1024;

/** Stores `data` (in uneven chunks, as a socket would send it) and commits it. */
async function stored(t: ExecutionContext, data: Buffer, env: Record<string, string> = {}) {
  const s = openTestStores(t, { MODELSHARE_STORAGE_INLINE_MAX_BYTES: String(limit), ...env });
  const dataKeyId = s.keys.create('model');
  const chunks = [];
  for (let offset = 0; offset < data.length; offset += 7_777) chunks.push(data.subarray(offset, offset + 7_777));
  const staged = await s.blobs.put(Readable.from(chunks), { dataKeyId, maxBytes: 1 << 30, expected: { 'sha-256': sha256(data) } });
  s.db.transaction(() => s.blobs.commit(staged))();
  const blobFiles = () => filesUnder(path.join(s.dataDir, 'blobs')).filter((f) => !f.includes(`${path.sep}staging${path.sep}`));
  const sealedRow = () => (s.db.prepare('SELECT sealed FROM blob_inline WHERE blob_id = ?').get(staged.id) as { sealed: Buffer } | undefined)?.sealed;
  return { ...s, staged, info: s.blobs.info(staged.id)!, blobFiles, sealedRow };
}

for (const size of [0, 1, segmentSize, segmentSize + 1, limit]) {
  test(`a blob of ${size} bytes is kept in the database, not in a file, and reads back whole and by range`, async (t) => {
    const data = crypto.randomBytes(size);
    const { blobs, info, blobFiles, sealedRow } = await stored(t, data);
    t.true(info.inline);
    t.deepEqual(blobFiles(), []);
    t.truthy(sealedRow());
    t.deepEqual(await readAll(blobs.read(info)), data);
    if (size > 2) {
      for (const [start, end] of [[1, size - 1], [0, 1], [size - 1, size], [Math.floor(size / 2), size]] as const) {
        t.deepEqual(await readAll(blobs.read(info, start, end)), data.subarray(start, end), `range ${start}-${end}`);
      }
    }
    await blobs.assertIntact(info);
    t.deepEqual(await blobs.verify(info), { ok: true });
  });
}

test('a blob one byte over the limit is a file; with the limit at 0 every blob is a file', async (t) => {
  const over = await stored(t, crypto.randomBytes(limit + 1));
  t.false(over.info.inline);
  t.is(over.blobFiles().length, 1);
  t.is(over.sealedRow(), undefined);
  const off = await stored(t, crypto.randomBytes(1000), { MODELSHARE_STORAGE_INLINE_MAX_BYTES: '0' });
  t.false(off.info.inline);
  t.is(off.blobFiles().length, 1);
});

test('the database holds only sealed bytes: no run of the plaintext is in the row or in the database files', async (t) => {
  const data = crypto.randomBytes(100_000);
  const { sealedRow, dataDir, staged } = await stored(t, data);
  const sealed = sealedRow()!;
  t.is(sealed.subarray(0, 3).toString('latin1'), 'MSB', 'the same header as a blob file');
  for (let at = 0; at + 32 <= data.length; at += 10_000) {
    const run = data.subarray(at, at + 32);
    t.is(sealed.indexOf(run), -1);
    for (const file of fs.readdirSync(dataDir).filter((f) => f.startsWith('modelshare.db'))) t.is(fs.readFileSync(path.join(dataDir, file)).indexOf(run), -1, `${file} at ${at}`);
  }
  t.truthy(staged.inline);
});

test('a changed byte in an inline blob fails its read and marks it damaged; verify finds it; a shortened row is truncated', async (t) => {
  const data = crypto.randomBytes(3 * segmentSize + 5);
  const { blobs, info, db, sealedRow } = await stored(t, data);
  const sealed = sealedRow()!;
  const altered = Buffer.from(sealed);
  altered[56 + segmentSize + 16 + 9]! ^= 1; // inside segment 1
  db.prepare('UPDATE blob_inline SET sealed = ? WHERE blob_id = ?').run(altered, info.id);
  await t.throwsAsync(readAll(blobs.read(info)), { message: /segment 1 does not open/ });
  t.is(blobs.damage.reasonFor(info.id), 'unauthentic');
  t.like(await blobs.verify(info), { ok: false, reason: 'unauthentic' });

  db.prepare('UPDATE blob_inline SET sealed = ? WHERE blob_id = ?').run(sealed, info.id);
  t.deepEqual(await blobs.verify(info), { ok: true }, 'the restored bytes check out and clear the mark');
  db.prepare('UPDATE blob_inline SET sealed = ? WHERE blob_id = ?').run(sealed.subarray(0, sealed.length - 100), info.id);
  t.like(await blobs.verify(info), { ok: false, reason: 'truncated' });
  await t.throwsAsync(blobs.assertIntact(info), { message: /damaged/ });
});

test('remove and forget take an inline blob\'s bytes with its row; a discarded one never had any', async (t) => {
  const { blobs, info, db, sealedRow, keys } = await stored(t, crypto.randomBytes(5000));
  t.truthy(sealedRow());
  await blobs.remove(info.id);
  t.is(blobs.info(info.id), undefined);
  t.deepEqual(db.prepare('SELECT count(*) AS n FROM blob_inline').get(), { n: 0 });

  const data = crypto.randomBytes(5000);
  const staged = await blobs.put(Readable.from([data]), { dataKeyId: keys.create('model'), maxBytes: 1e9, expected: { 'sha-256': sha256(data) } });
  db.transaction(() => blobs.commit(staged))();
  db.transaction(() => blobs.forget(staged.id))();
  t.deepEqual(db.prepare('SELECT count(*) AS n FROM blob_inline').get(), { n: 0 });

  const dropped = await blobs.put(Readable.from([data]), { dataKeyId: keys.create('model'), maxBytes: 1e9, expected: { 'sha-256': sha256(data) } });
  await blobs.discard(dropped);
  t.deepEqual(db.prepare('SELECT count(*) AS n FROM blobs').get(), { n: 0 });
  t.deepEqual(await blobs.sweep(0), { staging: 0, orphans: 0 });
});
