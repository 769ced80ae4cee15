import crypto from 'node:crypto';
import test from 'ava';
import { openText, seal } from '../../src/crypto/sealed.ts';
import { openTestStores } from '../helpers/stores.ts';

const place = { table: 'people', column: 'email', row: 'p1' };
const aad = (p: typeof place) => Buffer.from(`modelshare sealed v1\0${p.table}\0${p.column}\0${p.row}`);

function gcmOpen(key: Buffer, sealed: Buffer, p: typeof place): string {
  const decipher = crypto.createDecipheriv('aes-256-gcm', key, sealed.subarray(17, 29));
  decipher.setAAD(aad(p));
  decipher.setAuthTag(sealed.subarray(-16));
  return Buffer.concat([decipher.update(sealed.subarray(29, -16)), decipher.final()]).toString('utf8');
}

test('a data key never encrypts directly: each table and column seals under its own HKDF-derived key', (t) => {
  const { keys } = openTestStores(t);
  const keyId = keys.singleton('personal');
  const dataKey = keys.get(keyId);
  const sealed = seal(keys, keyId, place, 'ada@example.com');
  t.is(sealed[0], 0x02);
  t.throws(() => gcmOpen(dataKey, sealed, place), undefined, 'the raw data key does not open it');
  const derived = (column: string) => Buffer.from(crypto.hkdfSync('sha256', dataKey, Buffer.alloc(0), `modelshare seal v2\0people\0${column}`, 32));
  t.is(gcmOpen(derived('email'), sealed, place), 'ada@example.com');
  // Another column of the same data key: another key (so its nonces never meet these).
  const name = seal(keys, keyId, { ...place, column: 'name' }, 'Ada');
  t.throws(() => gcmOpen(derived('email'), name, { ...place, column: 'name' }));
  t.is(gcmOpen(derived('name'), name, { ...place, column: 'name' }), 'Ada');
});

test('values sealed before (format 1, the data key used directly) still open', (t) => {
  const { keys } = openTestStores(t);
  const keyId = keys.singleton('personal');
  const nonce = crypto.randomBytes(12);
  const cipher = crypto.createCipheriv('aes-256-gcm', keys.get(keyId), nonce);
  cipher.setAAD(aad(place));
  const body = Buffer.concat([cipher.update('old@example.com'), cipher.final()]);
  const legacy = Buffer.concat([Buffer.from([0x01]), Buffer.from(keyId, 'hex'), nonce, body, cipher.getAuthTag()]);
  t.is(openText(keys, place, legacy), 'old@example.com');
  // A format-2 value relabelled as format 1 does not open (no downgrade to the raw key).
  const relabelled = Buffer.from(seal(keys, keyId, place, 'x'));
  relabelled[0] = 0x01;
  t.throws(() => openText(keys, place, relabelled));
});

test('rotatable purposes get a fresh data key; personal (blind-indexed) cannot be rotated this way', (t) => {
  const { keys } = openTestStores(t);
  const tls = keys.current('tls');
  const next = keys.rotatePurpose('tls');
  t.not(next, tls);
  t.is(keys.current('tls'), next);
  t.throws(() => keys.rotatePurpose('personal' as never), { message: /cannot be rotated/ });
});
