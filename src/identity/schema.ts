/** Input of the sign-in and token calls, checked at the edge; past here values are typed. */
import { z } from 'zod';
import { AppError } from '../errors.ts';

/** Parses with a zod schema; a mismatch is a 400 naming the fields. */
export function parseInput<T>(schema: z.ZodType<T>, input: unknown): T {
  const result = schema.safeParse(input);
  if (!result.success) {
    throw new AppError('validation_failed', 'The request does not match what this call accepts', {
      extra: { errors: result.error.issues.map((i) => ({ field: i.path.join('.'), message: i.message })) },
    });
  }
  return result.data;
}

/** `return_to` must be a path on this site: not `//host`, not `/\host`, no scheme, no control characters. */
export const returnTo = z
  .string()
  .max(2000)
  .refine((v) => /^\/(?![/\\])[^\x00-\x1f\x7f\\]*$/.test(v), 'must be a local path starting with /')
  .catch('/');

export const deviceStart = z.object({ client_name: z.string().trim().min(1).max(100).default('Desktop client') }).strict();

export const tokenRequest = z.discriminatedUnion('grant_type', [
  z.object({ grant_type: z.literal('urn:ietf:params:oauth:grant-type:device_code'), device_code: z.string().min(1).max(200), client_id: z.string().optional() }),
  z.object({ grant_type: z.literal('refresh_token'), refresh_token: z.string().min(1).max(200), client_id: z.string().optional() }),
]);

export const revokeRequest = z.object({ token: z.string().min(1).max(200), token_type_hint: z.string().optional(), client_id: z.string().optional() });

export const createToken = (maxDays: number) =>
  z
    .object({
      name: z.string().trim().min(1).max(100),
      scopes: z.array(z.enum(['read', 'write', 'admin'])).min(1).max(3).refine((s) => new Set(s).size === s.length, 'must not repeat a scope'),
      expires_in_days: z.number().int().min(1).max(maxDays).default(Math.min(90, maxDays)),
    })
    .strict();
