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

function blobKey(dataKey: Buffer, salt: Buffer, blobId: string): Buffer {
  return Buffer.from(crypto.hkdfSync('sha256', dataKey, salt, `modelshare blob v1\0${blobId}`, 32));
}

function nonce(index: number, last: boolean): Buffer {
  const n = Buffer.alloc(12);
  n.writeUIntBE(index, 5, 6); // bytes 0–10 are the counter; 6 bytes cover 2^48 segments (16 EiB)
  n[11] = last ? 1 : 0;
  return n;
}

/** Seals a stream of plaintext into segments. Feed it with `push`, end it with `finish`. */
export class SegmentSealer {
  readonly header: Buffer;
  readonly #key: Buffer;
  #index = 0;
  #pending: Buffer[] = [];
  #pendingBytes = 0;

  constructor(dataKeyId: string, dataKey: Buffer, blobId: string) {
    const salt = crypto.randomBytes(32);
    this.header = Buffer.concat([magic, Buffer.from([segmentLog2, 0, 0, 0]), Buffer.from(dataKeyId, 'hex'), salt]);
    this.#key = blobKey(dataKey, salt, blobId);
  }

  #seal(plaintext: Buffer, last: boolean): Buffer {
    const cipher = crypto.createCipheriv('aes-256-gcm', this.#key, nonce(this.#index++, last));
    const out = Buffer.allocUnsafe(plaintext.length + tagSize);
    const body = cipher.update(plaintext);
    body.copy(out, 0);
    cipher.final();
    cipher.getAuthTag().copy(out, plaintext.length);
    return out;
  }

  /**
   * Takes plaintext and returns the sealed segments it completes. A full segment is sealed only once
   * more bytes follow it, because until then it might be the last one.
   */
  push(chunk: Buffer): Buffer[] {
    this.#pending.push(chunk);
    this.#pendingBytes += chunk.length;
    const out: Buffer[] = [];
    if (this.#pendingBytes <= segmentSize) return out;
    let all = Buffer.concat(this.#pending, this.#pendingBytes);
    let offset = 0;
    while (all.length - offset > segmentSize) {
      out.push(this.#seal(all.subarray(offset, offset + segmentSize), false));
      offset += segmentSize;
    }
    all = all.subarray(offset);
    this.#pending = [all];
    this.#pendingBytes = all.length;
    return out;
  }

  /** Seals what is left as the last segment. */
  finish(): Buffer {
    const last = this.#seal(Buffer.concat(this.#pending, this.#pendingBytes), true);
    this.#pending = [];
    this.#pendingBytes = 0;
    return last;
  }
}

/** Reads a header and opens segments of one blob by index. */
export class SegmentOpener {
  readonly #key: Buffer;
  readonly #lastIndex: number;

  /** `plaintextSize` comes from the catalog; it fixes which segment must carry the last flag. */
  constructor(header: Buffer, dataKey: Buffer, blobId: string, plaintextSize: number) {
    if (header.length !== headerSize || !header.subarray(0, 4).equals(magic) || header[4] !== segmentLog2) {
      throw new BlobFormatError(`blob ${blobId} does not start with a known header`);
    }
    this.#key = blobKey(dataKey, header.subarray(24, 56), blobId);
    this.#lastIndex = Math.max(0, Math.ceil(plaintextSize / segmentSize) - 1);
  }

  get lastIndex(): number {
    return this.#lastIndex;
  }

  open(index: number, sealed: Buffer): Buffer {
    if (sealed.length < tagSize) throw new BlobFormatError(`segment ${index} is truncated`);
    const decipher = crypto.createDecipheriv('aes-256-gcm', this.#key, nonce(index, index === this.#lastIndex));
    decipher.setAuthTag(sealed.subarray(sealed.length - tagSize));
    try {
      const body = decipher.update(sealed.subarray(0, sealed.length - tagSize));
      decipher.final();
      return body;
    } catch {
      throw new BlobFormatError(`segment ${index} does not open: the blob was altered, truncated or reordered`);
    }
  }
}
