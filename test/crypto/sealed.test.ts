import test from 'ava';
import { blindIndex, open, openText, seal, SealedValueError } from '../../src/crypto/sealed.ts';
import { openTestStores } from '../helpers/stores.ts';

const place = { table: 'people', column: 'email', row: 'p1' };

test('a sealed value opens in its own place', (t) => {
  const { keys } = openTestStores(t);
  const keyId = keys.singleton('personal');
  const sealed = seal(keys, keyId, place, 'ada@example.com');
  t.is(openText(keys, place, sealed), 'ada@example.com');
  t.false(sealed.includes(Buffer.from('ada@example.com')));
});

test('sealing twice gives different values (fresh nonce)', (t) => {
  const { keys } = openTestStores(t);
  const keyId = keys.singleton('personal');
  t.notDeepEqual(seal(keys, keyId, place, 'x'), seal(keys, keyId, place, 'x'));
});

test('a sealed value moved to another row, column or table fails to open', (t) => {
  const { keys } = openTestStores(t);
  const keyId = keys.singleton('personal');
  const sealed = seal(keys, keyId, place, 'ada@example.com');
  t.throws(() => open(keys, { ...place, row: 'p2' }, sealed), { instanceOf: SealedValueError });
  t.throws(() => open(keys, { ...place, column: 'name' }, sealed), { instanceOf: SealedValueError });
  t.throws(() => open(keys, { ...place, table: 'invitations' }, sealed), { instanceOf: SealedValueError });
});

test('a tampered or truncated sealed value fails to open', (t) => {
  const { keys } = openTestStores(t);
  const keyId = keys.singleton('personal');
  const sealed = seal(keys, keyId, place, 'ada@example.com');
  for (const i of [0, 20, 30, sealed.length - 1]) {
    const bad = Buffer.from(sealed);
    bad[i]! ^= 0x01;
    t.throws(() => open(keys, place, bad), undefined, `flipped byte ${i}`);
  }
  t.throws(() => open(keys, place, sealed.subarray(0, sealed.length - 1)), { instanceOf: SealedValueError });
  t.throws(() => open(keys, place, sealed.subarray(0, 20)), { instanceOf: SealedValueError });
});

test('a value sealed under one data key does not open under another', (t) => {
  const { keys } = openTestStores(t);
  const a = keys.create('model');
  const b = keys.create('model');
  const sealed = seal(keys, a, place, 'model name');
  const forged = Buffer.from(sealed);
  Buffer.from(b, 'hex').copy(forged, 1);
  t.throws(() => open(keys, place, forged), { instanceOf: SealedValueError });
});

test('blind indexes match equal values only, and differ per index name and key', (t) => {
  const { keys } = openTestStores(t);
  const k = keys.singleton('personal');
  const other = keys.create('personal');
  const a = blindIndex(keys, k, 'people.email', 'ada@example.com');
  t.deepEqual(a, blindIndex(keys, k, 'people.email', 'ada@example.com'));
  t.notDeepEqual(a, blindIndex(keys, k, 'people.email', 'bob@example.com'));
  t.notDeepEqual(a, blindIndex(keys, k, 'invitations.email', 'ada@example.com'));
  t.notDeepEqual(a, blindIndex(keys, other, 'people.email', 'ada@example.com'));
  t.is(a.length, 32);
});
