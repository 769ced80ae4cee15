/**
 * Moving model bytes: uploads (baselines, write-outs) stream from the file with their
 * Content-Digest computed first; a write-out is retried with the same Idempotency-Key, so a retry
 * after a lost answer never makes a second packet. Downloads stream to `<file>.part`, resume with
 * Range + If-Range after a cut, and are renamed into place only when the whole file's digest equals
 * the server's Repr-Digest (and the digest the listing gave).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ModelshareClient, ModelshareError, type Baseline, type Packet } from './client.ts';

/** Told how many bytes of how many have moved. */
export type Progress = (done: number, total: number) => void;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The SHA-256 of a file, read as a stream. */
export async function sha256File(file: string): Promise<Buffer> {
  const hash = crypto.createHash('sha256');
  await pipeline(fs.createReadStream(file), hash);
  return hash.digest();
}

/** The sha-256 value of an RFC 9530 digest field, if it has one. */
export function sha256Of(field: string | null | undefined): Buffer | undefined {
  const match = /(?:^|,)\s*sha-256=:([A-Za-z0-9+/]+={0,2}):/.exec(field ?? '');
  return match ? Buffer.from(match[1]!, 'base64') : undefined;
}

function counting(onProgress: Progress | undefined, start: number, total: number): Transform {
  let done = start;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      done += chunk.length;
      onProgress?.(done, total);
      callback(null, chunk);
    },
  });
}

/** Network trouble or a server that cannot answer now: worth another try. */
function transient(error: unknown): boolean {
  if (error instanceof ModelshareError) return error.status >= 500 || error.code === 'too_many_requests';
  return true;
}

/** Uploads `file` with its Content-Digest, computed first by reading the file as a stream. */
async function upload(client: ModelshareClient, path: string, query: Record<string, number>, file: string, headers: Record<string, string>, onProgress?: Progress) {
  const { size } = await fs.promises.stat(file);
  const digest = `sha-256=:${(await sha256File(file)).toString('base64')}:`;
  const res = await client.raw('POST', path, {
    query,
    headers: { 'content-digest': digest, 'content-length': String(size), ...headers },
    body: () => fs.createReadStream(file).pipe(counting(onProgress, 0, size)) as Readable,
  });
  return { answer: (await ModelshareClient.answer(res)) as Record<string, unknown>, headers: res.headers };
}

export interface WriteOutResult {
  packet: Packet;
  /** The server had the packet already (an earlier try got through): nothing was made twice. */
  replayed: boolean;
}

/**
 * Writes out `file` as the packet after `base`. Retries (network errors, 5xx, 429) carry the same
 * Idempotency-Key. `409 not_up_to_date` is thrown as is: the writer must read in first.
 */
export async function writeOut(client: ModelshareClient, modelId: string, base: number, file: string, options: { comment?: string; idempotencyKey?: string; onProgress?: Progress; attempts?: number; retryDelayMs?: number } = {}): Promise<WriteOutResult> {
  const key = options.idempotencyKey ?? crypto.randomUUID();
  const headers: Record<string, string> = { 'idempotency-key': key };
  if (options.comment) headers['modelshare-comment'] = encodeURIComponent(options.comment);
  const attempts = options.attempts ?? 5;
  for (let attempt = 1; ; attempt++) {
    try {
      if (attempt > 1) await stillWorthSending(client, modelId, base, file);
      const sent = await upload(client, `/api/v1/models/${encodeURIComponent(modelId)}/packets`, { base }, file, headers, options.onProgress);
      return { packet: sent.answer as unknown as Packet, replayed: sent.headers['idempotent-replayed'] === 'true' };
    } catch (error) {
      if (attempt >= attempts || !transient(error)) throw error;
      await sleep((options.retryDelayMs ?? 1000) * 2 ** (attempt - 1));
    }
  }
}

/**
 * Before a retry: a server that refuses a write-out before reading it (409) closes the connection,
 * and a client still sending a large body may see only the close. So when the head has moved past
 * `base`, a retry is sent only if the packet after `base` has this file's digest (the first try got
 * through; the retry's key then answers it); otherwise the writer must read in first.
 */
async function stillWorthSending(client: ModelshareClient, modelId: string, base: number, file: string): Promise<void> {
  const { packets, head } = await client.packets(modelId, base);
  if (head === base) return;
  const mine = sha256Of(packets[0]?.digest);
  if (mine && mine.equals(await sha256File(file))) return;
  throw new ModelshareError(409, 'not_up_to_date', `The model has moved on to head ${head}; read in first`, { code: 'not_up_to_date', head });
}

/** Uploads `file` as a baseline as of packet `seq` (which must be the model's head). */
export async function uploadBaseline(client: ModelshareClient, modelId: string, seq: number, file: string, onProgress?: Progress): Promise<Baseline> {
  return (await upload(client, `/api/v1/models/${encodeURIComponent(modelId)}/baselines`, { seq }, file, {}, onProgress)).answer as unknown as Baseline;
}

export interface DownloadResult {
  size: number;
  /** The whole file's SHA-256, checked against the server's. */
  sha256: Buffer;
  /** How many times the download resumed after a cut. */
  resumed: number;
}

/**
 * Downloads `path` to `dest`, resuming a cut download with Range + If-Range (also one an earlier
 * run left as `dest.part`), and verifies the whole file before it takes `dest`'s name.
 */
export async function download(client: ModelshareClient, path: string, dest: string, options: { expected?: string | null; onProgress?: Progress; attempts?: number; retryDelayMs?: number } = {}): Promise<DownloadResult> {
  const part = `${dest}.part`;
  const meta = `${dest}.part.json`;
  let etag: string | undefined;
  try {
    const saved = JSON.parse(await fs.promises.readFile(meta, 'utf8')) as { path: string; etag: string };
    if (saved.path === path) etag = saved.etag;
  } catch {
    // No earlier partial download of this path.
  }
  let offset = etag ? await fs.promises.stat(part).then((s) => s.size, () => 0) : 0;
  let resumed = 0;
  let reprDigest: Buffer | undefined;
  const attempts = options.attempts ?? 6;
  for (let attempt = 1; ; attempt++) {
    try {
      const headers: Record<string, string> = { 'want-repr-digest': 'sha-256=1', accept: 'application/octet-stream, application/problem+json' };
      if (offset > 0 && etag) Object.assign(headers, { range: `bytes=${offset}-`, 'if-range': etag });
      const res = await client.raw('GET', path, { headers });
      if (res.status === 416) {
        await res.body.dump();
        offset = 0; // what we hold is no prefix of the blob: start again
        etag = undefined;
        continue;
      }
      if (res.status !== 200 && res.status !== 206) await ModelshareClient.answer(res);
      etag = String(res.headers['etag'] ?? '');
      reprDigest = sha256Of(String(res.headers['repr-digest'] ?? res.headers['content-digest'] ?? ''));
      const total = Number(/\/(\d+)$/.exec(String(res.headers['content-range'] ?? ''))?.[1] ?? res.headers['content-length'] ?? 0);
      if (res.status === 200) offset = 0;
      else if (!String(res.headers['content-range']).startsWith(`bytes ${offset}-`)) throw new Error('the server sent another range than asked');
      else resumed++;
      await fs.promises.writeFile(meta, JSON.stringify({ path, etag }));
      const out = fs.createWriteStream(part, { flags: offset > 0 ? 'a' : 'w' });
      await pipeline(res.body, counting(options.onProgress, offset, total), out);
      break;
    } catch (error) {
      if (attempt >= attempts || (error instanceof ModelshareError && !transient(error))) throw error;
      offset = await fs.promises.stat(part).then((s) => s.size, () => 0);
      await sleep((options.retryDelayMs ?? 500) * 2 ** (attempt - 1));
    }
  }
  const sha256 = await sha256File(part);
  const expected = [reprDigest, sha256Of(options.expected)].filter((d): d is Buffer => d !== undefined);
  if (expected.length === 0 || !expected.every((d) => d.length === sha256.length && crypto.timingSafeEqual(d, sha256))) {
    await fs.promises.rm(part, { force: true });
    await fs.promises.rm(meta, { force: true });
    throw new ModelshareError(0, 'digest_mismatch', `The download of ${path} does not match its digest; it was discarded, try again`);
  }
  const { size } = await fs.promises.stat(part);
  await fs.promises.rename(part, dest);
  await fs.promises.rm(meta, { force: true });
  return { size, sha256, resumed };
}
