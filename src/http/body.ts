/**
 * Reading small request bodies (JSON and HTML forms) with a size limit. Binary uploads never come
 * through here: they stream to the blob store.
 */
import type { Context } from 'koa';
import { AppError } from '../errors.ts';

async function readText(ctx: Context, limit: number): Promise<string> {
  const declared = Number(ctx.get('Content-Length') || 0);
  if (declared > limit) throw new AppError('payload_too_large', `The body is larger than the limit of ${limit} bytes`, { extra: { limit } });
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      // Stop reading: the rest of the body is not wanted, and the connection closes after the answer.
      ctx.set('Connection', 'close');
      throw new AppError('payload_too_large', `The body is larger than the limit of ${limit} bytes`, { extra: { limit } });
    }
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.includes('\uFFFD')) throw new AppError('bad_request', 'The body is not valid UTF-8');
  return text;
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
