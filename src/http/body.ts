/**
 * Reading small request bodies (JSON and HTML forms) with a size limit. Binary uploads never come
 * through here: they stream to the blob store.
 */
import type { Context } from 'koa';
import { AppError } from '../errors.ts';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Reads the body up to `limit` bytes. Past the limit it stops listening without destroying the
 * request: the 413 still goes out, and the connection closes after it (`Connection: close`), so the
 * rest is never read. A stream error rejects; nothing here can throw outside the returned promise.
 */
function readText(ctx: Context, limit: number): Promise<string> {
  return readBytes(ctx, limit).then((bytes) => {
    try {
      return utf8.decode(bytes);
    } catch {
      throw new AppError('bad_request', 'The body is not valid UTF-8');
    }
  });
}

/** The body's bytes, up to `limit` (see readText). */
function readBytes(ctx: Context, limit: number): Promise<Buffer> {
  const declared = Number(ctx.get('Content-Length') || 0);
  const tooLarge = () => new AppError('payload_too_large', `The body is larger than the limit of ${limit} bytes`, { extra: { limit } });
  if (declared > limit) {
    ctx.set('Connection', 'close');
    return Promise.reject(tooLarge());
  }
  const req = ctx.req;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (error?: unknown) => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onAborted);
      if (error) return reject(error);
      resolve(Buffer.concat(chunks));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        ctx.set('Connection', 'close');
        req.pause();
        return finish(tooLarge());
      }
      chunks.push(chunk);
    };
    const onEnd = () => finish();
    const onError = (error: Error) => finish(new AppError('request_incomplete', 'The request body could not be read', { cause: error }));
    const onAborted = () => finish(new AppError('request_incomplete', 'The request body ended before it was complete'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onAborted);
    // A listener stays so a late error on a request nobody reads any more cannot end the process.
    req.on('error', () => {});
  });
}

/** True when every string in the value is well-formed UTF-16 (no lone surrogate from a \uD800 escape). */
const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
function wellFormed(value: unknown): boolean {
  if (typeof value === 'string') return !loneSurrogate.test(value);
  if (Array.isArray(value)) return value.every(wellFormed);
  if (value && typeof value === 'object') return Object.entries(value).every(([k, v]) => !loneSurrogate.test(k) && wellFormed(v));
  return true;
}

/** A JSON object body; an empty body is an empty object. */
export async function readJson(ctx: Context, limit: number): Promise<Record<string, unknown>> {
  if (ctx.request.length === 0 || (!ctx.get('Content-Length') && !ctx.get('Transfer-Encoding'))) return {};
  if (!ctx.is('application/json')) throw new AppError('unsupported_media_type', 'Send the body as application/json');
  const text = await readText(ctx, limit);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new AppError('malformed_json', 'The body is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new AppError('validation_failed', 'The body must be a JSON object');
  if (!wellFormed(value)) throw new AppError('malformed_json', 'The body holds a string that is not valid Unicode (a lone surrogate)');
  return value as Record<string, unknown>;
}

/** Parameters from a JSON object or an `application/x-www-form-urlencoded` body (OAuth endpoints take both). */
export async function readParams(ctx: Context, limit: number): Promise<Record<string, unknown>> {
  if (ctx.is('application/x-www-form-urlencoded')) {
    const params = new URLSearchParams(await readText(ctx, limit));
    const out: Record<string, string> = {};
    for (const [k, v] of params) {
      if (k in out) throw new AppError('bad_request', `The parameter ${k} is given twice`);
      out[k] = v;
    }
    return out;
  }
  return readJson(ctx, limit);
}

/**
 * A browser form: URL-encoded, or `multipart/form-data` when it uploads a file (the console's CSV
 * imports). Multipart is parsed by the platform's fetch `Response.formData()` from the bytes read
 * under the same limit; an uploaded file becomes its text, which must be UTF-8. Anything else is
 * read as readParams reads it.
 */
export async function readForm(ctx: Context, limit: number): Promise<Record<string, unknown>> {
  if (!ctx.is('multipart/form-data')) return readParams(ctx, limit);
  const bytes = await readBytes(ctx, limit);
  let form: FormData;
  try {
    form = await new Response(new Blob([new Uint8Array(bytes)]), { headers: { 'content-type': ctx.get('Content-Type') } }).formData();
  } catch {
    throw new AppError('bad_request', 'The form is not valid multipart/form-data');
  }
  const out: Record<string, string> = {};
  for (const [k, v] of form) {
    if (k in out) throw new AppError('bad_request', `The parameter ${k} is given twice`);
    let text: string;
    try {
      text = typeof v === 'string' ? v : utf8.decode(await v.arrayBuffer());
    } catch {
      throw new AppError('bad_request', `The file of ${k} is not UTF-8 text`);
    }
    if (loneSurrogate.test(text) || loneSurrogate.test(k)) throw new AppError('bad_request', 'The form holds text that is not valid Unicode');
    out[k] = text;
  }
  return out;
}
