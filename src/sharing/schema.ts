/** Input of the sharing calls, checked at the edge. */
import { z } from 'zod';
import { AppError } from '../errors.ts';

export const createModel = z
  .object({
    name: z.string().trim().min(1).max(200),
    description: z.string().max(5000).nullish(),
    organization_id: z.string().min(1).max(100).optional(),
  })
  .strict();

export const updateModel = z
  .object({ name: z.string().trim().min(1).max(200).optional(), description: z.string().max(5000).nullable().optional() })
  .strict()
  .refine((v) => v.name !== undefined || v.description !== undefined, 'give name or description');

export const transfer = z.object({ user_id: z.string().min(1).max(100) }).strict();
export const setRole = z.object({ role: z.enum(['admin', 'editor', 'viewer']) }).strict();
export const invite = z.object({ email: z.email().max(320), role: z.enum(['admin', 'editor', 'viewer']) }).strict();

/** A non-negative integer query parameter such as `base`, `seq` or `after`. */
export function sequenceNumber(value: unknown, name: string, required = true): number | undefined {
  if (value === undefined && !required) return undefined;
  if (typeof value !== 'string' || !/^\d{1,15}$/.test(value)) {
    throw new AppError('validation_failed', `${name} must be a whole number of 0 or more`, { extra: { errors: [{ field: name, message: 'not a whole number' }] } });
  }
  return Number(value);
}

/** `?limit=` (default 50, at most 200) and the opaque `?next=` cursor of PROTOCOL.md. */
export function page(query: Record<string, unknown>): { limit: number; cursor: string | undefined } {
  const raw = query['limit'];
  // Digits only: Number() would also take 0x2, 2e0, 0b10 and " 2".
  if (raw !== undefined && (typeof raw !== 'string' || !/^[0-9]{1,3}$/.test(raw))) {
    throw new AppError('validation_failed', 'limit must be a whole number from 1 to 200', { extra: { errors: [{ field: 'limit', message: 'not a whole number' }] } });
  }
  const limit = raw === undefined ? 50 : Number(raw);
  if (limit < 1 || limit > 200) throw new AppError('validation_failed', 'limit must be from 1 to 200', { extra: { errors: [{ field: 'limit', message: 'out of range' }] } });
  const next = query['next'];
  if (next !== undefined && (typeof next !== 'string' || !/^[A-Za-z0-9_-]{1,200}$/.test(next))) throw new AppError('validation_failed', 'next is not a cursor this server gave', { extra: { errors: [{ field: 'next', message: 'invalid cursor' }] } });
  return { limit, cursor: next === undefined ? undefined : Buffer.from(next, 'base64url').toString('utf8') };
}

export const cursor = (value: string | number) => Buffer.from(String(value), 'utf8').toString('base64url');

/** `Modelshare-Comment`: percent-encoded UTF-8, at most 2,000 characters once decoded. */
export function comment(header: string): string | null {
  if (header === '') return null;
  let text: string;
  try {
    text = decodeURIComponent(header);
  } catch {
    throw new AppError('validation_failed', 'Modelshare-Comment must be percent-encoded UTF-8', { extra: { errors: [{ field: 'Modelshare-Comment', message: 'not percent-encoded UTF-8' }] } });
  }
  if ([...text].length > 2000) throw new AppError('validation_failed', 'Modelshare-Comment may have at most 2,000 characters', { extra: { errors: [{ field: 'Modelshare-Comment', message: 'too long' }] } });
  return text;
}

/** `Idempotency-Key`: the client's UUID (or any short token). */
export function idempotencyKey(header: string): string | null {
  if (header === '') return null;
  if (!/^[A-Za-z0-9._:-]{1,100}$/.test(header)) throw new AppError('validation_failed', 'Idempotency-Key must be a UUID or a short token', { extra: { errors: [{ field: 'Idempotency-Key', message: 'invalid' }] } });
  return header;
}
