/**
 * Sending a blob: the whole of it or one byte range (RFC 9110 §14) so an interrupted download
 * resumes, with a strong ETag and its digests (RFC 9530, as Want-Content-Digest asks): Repr-Digest
 * always, Content-Digest when the whole blob is sent (a 206's content is only the range).
 */
import type { Context } from 'koa';
import type { BlobInfo, BlobService, ReadContext } from '../blobs/blob-service.ts';
import { chooseDigest, formatContentDigest } from '../crypto/digest.ts';
import { AppError } from '../errors.ts';

/** A strong validator: the plaintext's SHA-256, so equal bytes have equal tags wherever they live. */
export function etagOf(blob: BlobInfo): string {
  return `"${blob.digests['sha-256'].toString('base64url')}"`;
}

/** Parses one `bytes=` range against `size`; undefined for none, `unsatisfiable` when it cannot be served. */
function parseRange(header: string, size: number): { start: number; end: number } | 'unsatisfiable' | undefined {
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) return undefined; // several ranges or garbage: send it all
  if (match[1] === '') {
    const suffix = Number(match[2]);
    if (suffix === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size };
  }
  const start = Number(match[1]);
  const end = match[2] === '' ? size : Math.min(size, Number(match[2]) + 1);
  if (start >= size || end <= start) return 'unsatisfiable';
  return { start, end };
}

/**
 * Answers with a blob, or with a problem document (before any byte) when it is known to be damaged.
 * `context` names what the blob is (model, packet or baseline) in the log should it turn out damaged.
 */
export async function sendBlob(ctx: Context, blobs: BlobService, blob: BlobInfo, headers: Record<string, string>, context: ReadContext = {}): Promise<void> {
  await blobs.assertIntact(blob, context);
  const etag = etagOf(blob);
  ctx.set(headers);
  ctx.set('ETag', etag);
  ctx.set('Accept-Ranges', 'bytes');
  // Repr-Digest covers the whole blob, so a resumed download can check what it assembled.
  ctx.set('Repr-Digest', formatContentDigest(chooseDigest(ctx.get('Want-Repr-Digest') || ctx.get('Want-Content-Digest') || undefined, blob.digests)));
  if (ctx.get('If-None-Match') === etag) {
    ctx.status = 304;
    return;
  }
  const rangeHeader = ctx.get('Range');
  const ifRange = ctx.get('If-Range');
  const range = rangeHeader && (!ifRange || ifRange === etag) ? parseRange(rangeHeader, blob.size) : undefined;
  if (range === 'unsatisfiable') {
    throw new AppError('range_not_satisfiable', `The blob has ${blob.size} bytes`, { headers: { 'Content-Range': `bytes */${blob.size}` } });
  }
  ctx.type = 'application/octet-stream';
  const { start, end } = range ?? { start: 0, end: blob.size };
  if (range) {
    ctx.status = 206;
    ctx.set('Content-Range', `bytes ${start}-${end - 1}/${blob.size}`);
  } else {
    // For the whole blob the content is the representation: Content-Digest as PROTOCOL.md promises.
    ctx.status = 200;
    ctx.set('Content-Digest', formatContentDigest(chooseDigest(ctx.get('Want-Content-Digest') || undefined, blob.digests)));
  }
  ctx.length = end - start;
  if (ctx.method === 'HEAD') return;
  ctx.body = blobs.read(blob, start, end, context);
}
