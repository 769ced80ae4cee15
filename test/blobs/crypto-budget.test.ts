import crypto from 'node:crypto';
import { Readable } from 'node:stream';
import test from 'ava';
import { BlobService } from '../../src/blobs/blob-service.ts';
import { CryptoPool } from '../../src/crypto/crypto-pool.ts';
import { openTestStores } from '../helpers/stores.ts';
import { readAll } from '../helpers/blob-store.ts';
import { sha256 } from '../helpers/people.ts';

// The crypto pool's memory is a fixed budget of slots: transfers lease a few for their whole life,
// wait for their own when all are out, and run on their own thread when the budget is taken.

const mib = 1024 * 1024;

function pooled(t: Parameters<typeof openTestStores>[0], maxSlots: number) {
  const stores = openTestStores(t);
  const pool = new CryptoPool(1, maxSlots);
  t.teardown(() => pool.close());
  const blobs = new BlobService(stores.db, stores.keys, stores.blobBackend, { pool });
  return { ...stores, pool, blobs, dataKeyId: stores.keys.create('model') };
}

test('a lease takes slots from the budget, waits for its own when all are out, and gives them all back', async (t) => {
  const pool = new CryptoPool(1, 4);
  t.teardown(() => pool.close());
  const lease = pool.lease(3)!;
  t.truthy(lease);
  t.is(pool.lease(2), undefined, 'the budget has one slot left');
  const taken = [await lease.take(), await lease.take(), await lease.take()];
  let fourth: unknown;
  const waiting = lease.take().then((slot) => (fourth = slot));
  await new Promise((resolve) => setImmediate(resolve));
  t.is(fourth, undefined, 'a fourth take waits');
  lease.give(taken[1]!);
  await waiting;
  t.is(fourth, taken[1]);
  lease.end();
  t.is(pool.lease(2), undefined, 'slots still out stay counted until given');
  for (const slot of [taken[0]!, taken[2]!, taken[1]!]) lease.give(slot);
  t.truthy(pool.lease(4), 'every slot is back');
  t.is(pool.slotCount, 4);
});

test('uploads and downloads beyond the budget all round-trip, and the pool never holds more than its slots', async (t) => {
  const { pool, blobs, db, dataKeyId } = pooled(t, 8);
  const data = Array.from({ length: 3 }, () => crypto.randomBytes(3 * mib + 12_345));
  const chunked = (b: Buffer) => Readable.from((function* () { for (let o = 0; o < b.length; o += 70_000) yield b.subarray(o, o + 70_000); })());
  const staged = await Promise.all(data.map((d) => blobs.put(chunked(d), { dataKeyId, maxBytes: 1 << 30, expected: { 'sha-256': sha256(d) } })));
  db.transaction(() => staged.forEach((s) => blobs.commit(s)))();
  t.true(pool.slotCount <= 8);
  const again = await Promise.all([
    ...staged.map((s) => readAll(blobs.read(blobs.info(s.id)!))),
    ...data.map((d) => blobs.put(chunked(d), { dataKeyId, maxBytes: 1 << 30, expected: { 'sha-256': sha256(d) } })),
  ]);
  for (let i = 0; i < 3; i++) t.deepEqual(again[i], data[i]);
  t.true(pool.slotCount <= 8, `${pool.slotCount} slots`);
  t.truthy(pool.lease(8), 'every transfer gave its slots back');
});

test('a download stopped half-way and an upload that fails give their slots back', async (t) => {
  const { pool, blobs, db, dataKeyId } = pooled(t, 8);
  const data = crypto.randomBytes(4 * mib);
  const staged = await blobs.put(Readable.from([data]), { dataKeyId, maxBytes: 1 << 30, expected: { 'sha-256': sha256(data) } });
  db.transaction(() => blobs.commit(staged))();
  const stream = blobs.read(blobs.info(staged.id)!);
  for await (const _ of stream) break;
  await t.throwsAsync(blobs.put(Readable.from([data]), { dataKeyId, maxBytes: 1 << 30, expected: { 'sha-256': sha256(Buffer.from('other')) } }));
  // The jobs still out when they stopped settle first.
  let back = false;
  for (let i = 0; i < 100 && !back; i++) {
    const lease = pool.lease(8);
    if (lease) {
      lease.end();
      back = true;
    } else await new Promise((resolve) => setTimeout(resolve, 20));
  }
  t.true(back, 'every slot is back in the pool');
});
