/**
 * Content-Digest (RFC 9530): parsing what a client sends, formatting what the server sends, and the
 * hashing of a stream as it passes.
 */
import crypto from 'node:crypto';
import { AppError } from '../errors.ts';

export type DigestAlgorithm = 'sha-256' | 'sha-512';
export const digestAlgorithms: readonly DigestAlgorithm[] = ['sha-256', 'sha-512'];
const nodeName: Record<DigestAlgorithm, string> = { 'sha-256': 'sha256', 'sha-512': 'sha512' };
const digestLength: Record<DigestAlgorithm, number> = { 'sha-256': 32, 'sha-512': 64 };

export type Digests = Partial<Record<DigestAlgorithm, Buffer>>;

/**
 * Parses a Content-Digest field (a structured-field dictionary of byte sequences). Algorithms the
 * server does not support are ignored, as the RFC says; a field with none it supports is refused.
 */
export function parseContentDigest(field: string | undefined): Digests {
  if (field === undefined || field.trim() === '') throw new AppError('digest_required', 'Send Content-Digest: sha-256=:<base64>: with the body');
  const digests: Digests = {};
  for (const member of field.split(',')) {
    const match = /^\s*([a-z][a-z0-9_.*-]*)=:([A-Za-z0-9+/]*={0,2}):(;.*)?\s*$/.exec(member);
    if (!match) throw new AppError('bad_request', 'Content-Digest is not a valid structured field');
    const algorithm = match[1] as DigestAlgorithm;
    if (!digestAlgorithms.includes(algorithm)) continue;
    const value = Buffer.from(match[2]!, 'base64');
    if (value.length !== digestLength[algorithm]) throw new AppError('bad_request', `the ${algorithm} value of Content-Digest has the wrong length`);
    digests[algorithm] = value;
  }
  if (Object.keys(digests).length === 0) throw new AppError('digest_required', 'Content-Digest must carry sha-256 or sha-512');
  return digests;
}

export function formatContentDigest(digests: Digests): string {
  return digestAlgorithms
    .filter((a) => digests[a])
    .map((a) => `${a}=:${digests[a]!.toString('base64')}:`)
    .join(', ');
}

/**
 * Picks what to send for a Want-Content-Digest field (`sha-512=3, sha-256=1`): the available
 * algorithm with the highest preference, else sha-256.
 */
export function chooseDigest(want: string | undefined, available: Digests): Digests {
  let best: { algorithm: DigestAlgorithm; weight: number } | undefined;
  for (const member of (want ?? '').split(',')) {
    const match = /^\s*([a-z0-9-]+)=(\d+)\s*$/.exec(member);
    const algorithm = match?.[1] as DigestAlgorithm | undefined;
    const weight = Number(match?.[2]);
    if (algorithm && available[algorithm] && weight > 0 && (!best || weight > best.weight)) best = { algorithm, weight };
  }
  const algorithm = best?.algorithm ?? 'sha-256';
  return { [algorithm]: available[algorithm] };
}

/** Hashes bytes as they stream past, for the algorithms asked for. */
export class StreamHasher {
  readonly #hashes: [DigestAlgorithm, crypto.Hash][];

  constructor(algorithms: Iterable<DigestAlgorithm>) {
    this.#hashes = [...new Set(algorithms)].map((a) => [a, crypto.createHash(nodeName[a])]);
  }

  update(chunk: Buffer): void {
    for (const [, hash] of this.#hashes) hash.update(chunk);
  }

  digests(): Digests {
    return Object.fromEntries(this.#hashes.map(([a, hash]) => [a, hash.digest()]));
  }
}

/** True when every digest the client sent equals the one computed (compared in constant time). */
export function digestsMatch(expected: Digests, actual: Digests): boolean {
  return digestAlgorithms.every((a) => {
    const want = expected[a];
    const got = actual[a];
    if (!want) return true;
    return got !== undefined && want.length === got.length && crypto.timingSafeEqual(want, got);
  });
}
