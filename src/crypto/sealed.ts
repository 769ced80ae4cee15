/**
 * Sealed columns: a value encrypted with AES-256-GCM, with a fresh random nonce and associated data
 * naming its table, column and row, so a sealed value copied to another row or column fails to open.
 * Format, version 2 (written now):
 *
 *   0x02 ‖ data key id (16 bytes) ‖ nonce (12) ‖ ciphertext ‖ tag (16)
 *
 * A data key is never used to encrypt directly: it is only ever the input of HKDF, which derives one
 * key per purpose, here one per table and column ("modelshare seal v2\0table\0column"). So the blind
 * indexes, the blobs (stream-aead.ts) and each sealed column of one data key use unrelated keys, and
 * the random 96-bit nonces of one column never meet those of another under the same AES key.
 * Version 1 (0x01, the data key used directly) is still opened, for values written before.
 *
 * Blind indexes (as CipherSweet does them) let a sealed value be found by equality: an HMAC-SHA-256
 * of the normalized value under a key derived for that one index, never the encryption key.
 */
import crypto from 'node:crypto';
import type { Keyring } from './keyring.ts';

/** Where a sealed value lives; all three are bound into the ciphertext. */
export interface SealedPlace {
  table: string;
  column: string;
  row: string;
}

const formatV1 = 0x01;
const formatV2 = 0x02;
const overhead = 1 + 16 + 12 + 16;

const columnKeys = new WeakMap<Keyring, Map<string, Buffer>>();

/** The key of one table and column under a data key: HKDF-SHA-256, cached per keyring. */
function columnKey(keys: Keyring, dataKeyId: string, place: SealedPlace): Buffer {
  let perKeyring = columnKeys.get(keys);
  if (!perKeyring) columnKeys.set(keys, (perKeyring = new Map()));
  const cacheKey = `${dataKeyId}\0${place.table}\0${place.column}`;
  let key = perKeyring.get(cacheKey);
  if (!key) {
    key = Buffer.from(crypto.hkdfSync('sha256', keys.get(dataKeyId), Buffer.alloc(0), `modelshare seal v2\0${place.table}\0${place.column}`, 32));
    perKeyring.set(cacheKey, key);
  }
  return key;
}

export class SealedValueError extends Error {
  override name = 'SealedValueError';
}

function aad(place: SealedPlace): Buffer {
  return Buffer.from(`modelshare sealed v1\0${place.table}\0${place.column}\0${place.row}`);
}

/** Seals text or bytes under a key derived from the data key `dataKeyId` for one table, column and row. */
export function seal(keys: Keyring, dataKeyId: string, place: SealedPlace, value: string | Buffer): Buffer {
  const nonce = crypto.randomBytes(12);
  const cipher = crypto.createCipheriv('aes-256-gcm', columnKey(keys, dataKeyId, place), nonce);
  cipher.setAAD(aad(place));
  const body = cipher.update(typeof value === 'string' ? Buffer.from(value, 'utf8') : value);
  return Buffer.concat([Buffer.from([formatV2]), Buffer.from(dataKeyId, 'hex'), nonce, body, cipher.final(), cipher.getAuthTag()]);
}

/** Opens a sealed value; throws SealedValueError if it was altered or belongs to another place. */
export function open(keys: Keyring, place: SealedPlace, sealed: Buffer): Buffer {
  if (sealed.length < overhead || (sealed[0] !== formatV1 && sealed[0] !== formatV2)) throw new SealedValueError('not a sealed value of a known format');
  const dataKeyId = sealed.subarray(1, 17).toString('hex');
  const key = sealed[0] === formatV2 ? columnKey(keys, dataKeyId, place) : keys.get(dataKeyId);
  const decipher = crypto.createDecipheriv('aes-256-gcm', key, sealed.subarray(17, 29));
  decipher.setAAD(aad(place));
  decipher.setAuthTag(sealed.subarray(-16));
  try {
    return Buffer.concat([decipher.update(sealed.subarray(29, -16)), decipher.final()]);
  } catch {
    throw new SealedValueError(`the sealed value of ${place.table}.${place.column} for this row does not open`);
  }
}

export function openText(keys: Keyring, place: SealedPlace, sealed: Buffer): string {
  return open(keys, place, sealed).toString('utf8');
}

const indexKeys = new WeakMap<Keyring, Map<string, Buffer>>();

/**
 * A keyed blind index of `value` for the index `name` (e.g. `people.email`). Equal values give equal
 * indexes; without the data key nothing can be learned from it. Callers normalize first.
 */
export function blindIndex(keys: Keyring, dataKeyId: string, name: string, value: string): Buffer {
  let perKeyring = indexKeys.get(keys);
  if (!perKeyring) indexKeys.set(keys, (perKeyring = new Map()));
  const cacheKey = `${dataKeyId}\0${name}`;
  let indexKey = perKeyring.get(cacheKey);
  if (!indexKey) {
    indexKey = Buffer.from(crypto.hkdfSync('sha256', keys.get(dataKeyId), Buffer.alloc(0), `modelshare blind index v1\0${name}`, 32));
    perKeyring.set(cacheKey, indexKey);
  }
  return crypto.createHmac('sha256', indexKey).update(value, 'utf8').digest();
}
