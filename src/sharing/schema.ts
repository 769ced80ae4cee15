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

const wholeNumber = z.string().regex(/^\d{1,15}$/, 'must be a whole number of 0 or more').transform(Number);

/** `?limit=` (default 50, at most 200) and the opaque `?next=` cursor of PROTOCOL.md. */
export const pageQuery = z.object({
  limit: z
    .string()
    .regex(/^[1-9]\d{0,2}$/, 'must be from 1 to 200')
    .transform(Number)
    .pipe(z.number().max(200, 'must be from 1 to 200'))
    .optional()
    .transform((v) => v ?? 50),
  next: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,200}$/, 'is not a cursor this server gave')
    .transform((v) => Buffer.from(v, 'base64url').toString('utf8'))
    .optional(),
});

/** `GET /models/:id/packets`: a page, starting after `after` (or the cursor). */
export const packetsQuery = pageQuery.extend({ after: wholeNumber.optional() });
/** `POST /models/:id/baselines?seq=`: the packet the baseline includes. */
export const baselineQuery = z.object({ seq: wholeNumber });
/** `POST /models/:id/packets?base=`: the head the writer has read in. */
export const writeOutQuery = z.object({ base: wholeNumber });

export const modelParams = z.object({ id: z.string() });
export const memberParams = z.object({ id: z.string(), user_id: z.string() });
export const invitationParams = z.object({ id: z.string(), inv: z.string() });
export const packetParams = z.object({ id: z.string(), seq: wholeNumber });
export const baselineParams = z.object({ id: z.string(), seq: z.union([z.literal('latest'), wholeNumber]) });

/** A cursor of ours that must hold a sequence number. */
export function cursorSeq(value: string): number {
  if (!/^\d{1,15}$/.test(value)) throw new AppError('validation_failed', 'next is not a cursor this server gave', { extra: { errors: [{ field: 'next', message: 'invalid cursor' }] } });
  return Number(value);
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
