/**
 * The chunked AEAD of blob files, in the style of age's STREAM payload and Tink's AES-GCM-HKDF
 * streaming AEAD. A file is a header and then segments:
 *
 *   header (56 bytes): "MSB" 0x01 ‖ log2(segment size) ‖ 3 zero bytes ‖ data key id (16) ‖ salt (32)
 *   segment i:         AES-256-GCM(plaintext[i·S … (i+1)·S)) ‖ tag (16)
 *
 * The blob's own key is HKDF-SHA-256(data key, salt, "modelshare blob v1" ‖ blob id): a random salt
 * per blob means no key and nonce pair is ever used twice, and the blob id in the info binds the file
 * to its catalog row. The nonce of segment i is i as 11 big-endian bytes ‖ a last-segment flag, so
 * truncation, reordering, splicing and appending all fail to open. Every segment but the last holds
 * exactly S bytes; the last holds 0…S (0 only when the whole blob is empty).
 */
import crypto from 'node:crypto';

export const segmentSize = 64 * 1024;
export const tagSize = 16;
export const headerSize = 56;
const magic = Buffer.from([0x4d, 0x53, 0x42, 0x01]);
const segmentLog2 = Math.log2(segmentSize);

export class BlobFormatError extends Error {
  override name = 'BlobFormatError';
}

/** Bytes a blob of `plaintextSize` takes on disk. */
export function sealedSize(plaintextSize: number): number {
  const segments = Math.max(1, Math.ceil(plaintextSize / segmentSize));
  return headerSize + plaintextSize + segments * tagSize;
}

/**
 * Each data key as a KeyObject, made once: hkdfSync given a Buffer makes a KeyObject of it on every
 * call, which took longer than the derivation itself, once per blob written or read.
 */
const secretKeys = new WeakMap<Buffer, crypto.KeyObject>();

function secretKey(dataKey: Buffer): crypto.KeyObject {
  let key = secretKeys.get(dataKey);
  if (!key) secretKeys.set(dataKey, (key = crypto.createSecretKey(dataKey)));
  return key;
}

function blobKey(dataKey: Buffer, salt: Buffer, blobId: string): Buffer {
  return Buffer.from(crypto.hkdfSync('sha256', secretKey(dataKey), salt, `modelshare blob v1\0${blobId}`, 32));
}

function nonce(index: number, last: boolean): Buffer {
  const n = Buffer.alloc(12);
  n.writeUIntBE(index, 5, 6); // bytes 0–10 are the counter; 6 bytes cover 2^48 segments (16 EiB)
  n[11] = last ? 1 : 0;
  return n;
}

/** The header and the blob's own key for a new blob (a fresh random salt). */
export function newBlobCipher(dataKeyId: string, dataKey: Buffer, blobId: string): { header: Buffer; key: Buffer } {
  const salt = crypto.randomBytes(32);
  const header = Buffer.concat([magic, Buffer.from([segmentLog2, 0, 0, 0]), Buffer.from(dataKeyId, 'hex'), salt]);
  return { header, key: blobKey(dataKey, salt, blobId) };
}

/** Checks a stored header and derives the blob's own key from it. */
export function blobKeyFromHeader(header: Buffer, dataKey: Buffer, blobId: string): Buffer {
  if (header.length !== headerSize || !header.subarray(0, 4).equals(magic) || header[4] !== segmentLog2) {
    throw new BlobFormatError(`blob ${blobId} does not start with a known header`);
  }
  return blobKey(dataKey, header.subarray(24, 56), blobId);
}

/** The index of the segment that carries the last flag in a blob of `plaintextSize` bytes. */
export function lastSegmentIndex(plaintextSize: number): number {
  return Math.max(0, Math.ceil(plaintextSize / segmentSize) - 1);
}

/**
 * Seals `plaintext` as the segments `first, first + 1, …` into one buffer (each segment's ciphertext
 * followed by its tag). Unless `final`, the plaintext must be whole segments; when `final`, its last
 * (possibly short, or empty for an empty blob) segment carries the last flag. Written into `target`
 * when given (it must be large enough), else into a new buffer.
 */
export function sealSegments(key: Uint8Array, first: number, plaintext: Uint8Array, final: boolean, target?: Buffer): Buffer {
  const count = final ? Math.max(1, Math.ceil(plaintext.length / segmentSize)) : plaintext.length / segmentSize;
  if (!Number.isInteger(count)) throw new RangeError('only the final run of segments may end in a partial segment');
  const out = target ? target.subarray(0, plaintext.length + count * tagSize) : Buffer.allocUnsafeSlow(plaintext.length + count * tagSize);
  let at = 0;
  for (let i = 0; i < count; i++) {
    const part = plaintext.subarray(i * segmentSize, Math.min(plaintext.length, (i + 1) * segmentSize));
    const cipher = crypto.createCipheriv('aes-256-gcm', key, nonce(first + i, final && i === count - 1));
    at += cipher.update(part).copy(out, at);
    cipher.final();
    at += cipher.getAuthTag().copy(out, at);
  }
  return out;
}

/**
 * Opens the sealed segments `first, first + 1, …` held in `sealed` (whole segments, except that the
 * blob's last segment, `lastIndex`, may be short) into one buffer of plaintext: `target` when given
 * (it must be large enough), else a new one.
 */
export function openSegments(key: Uint8Array, first: number, lastIndex: number, sealed: Uint8Array, target?: Buffer): Buffer {
  const sealedSegment = segmentSize + tagSize;
  const count = Math.ceil(sealed.length / sealedSegment);
  const size = Math.max(0, sealed.length - count * tagSize);
  const out = target ? target.subarray(0, size) : Buffer.allocUnsafeSlow(size);
  let at = 0;
  for (let i = 0; i < count; i++) {
    const index = first + i;
    const part = sealed.subarray(i * sealedSegment, Math.min(sealed.length, (i + 1) * sealedSegment));
    if (part.length < tagSize || (part.length < sealedSegment && index !== lastIndex) || index > lastIndex) {
      throw new BlobFormatError(`segment ${index} is truncated`);
    }
    const decipher = crypto.createDecipheriv('aes-256-gcm', key, nonce(index, index === lastIndex));
    decipher.setAuthTag(part.subarray(part.length - tagSize));
    try {
      at += decipher.update(part.subarray(0, part.length - tagSize)).copy(out, at);
      decipher.final();
    } catch {
      throw new BlobFormatError(`segment ${index} does not open: the blob was altered, truncated or reordered`);
    }
  }
  return out;
}
