/** Input of the sign-in and token calls, checked at the edge; past here values are typed. */
import { z } from 'zod';

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

/** The answer to `POST /auth/device`. */
export const deviceStartResponse = z
  .object({ device_code: z.string(), user_code: z.string(), verification_uri: z.url(), verification_uri_complete: z.url(), expires_in: z.int().min(1), interval: z.int().min(1) })
  .strict();

/** The answer to `POST /auth/token`: a new access token and its rotated refresh token. */
export const tokenResponse = z
  .object({ access_token: z.string(), token_type: z.literal('Bearer'), expires_in: z.int().min(1), refresh_token: z.string(), scope: z.string().optional() })
  .strict();

export const revokeRequest = z.object({ token: z.string().min(1).max(200), token_type_hint: z.string().optional(), client_id: z.string().optional() });

export const createToken = (maxDays: number) =>
  z
    .object({
      name: z.string().trim().min(1).max(100),
      scopes: z.array(z.enum(['read', 'write', 'admin'])).min(1).max(3).refine((s) => new Set(s).size === s.length, 'must not repeat a scope'),
      expires_in_days: z.number().int().min(1).max(maxDays).default(Math.min(90, maxDays)),
    })
    .strict();

const optionalText = (max: number) => z.string().trim().min(1).max(max).nullable().optional();
const pictureTypes = { 'image/png': [0x89, 0x50, 0x4e, 0x47], 'image/jpeg': [0xff, 0xd8, 0xff], 'image/webp': [0x52, 0x49, 0x46, 0x46] } as const;

/** A picture as a data URL of a PNG, JPEG or WebP image of at most 256 KiB, whose bytes are what it says. */
const picture = z
  .string()
  .max(400_000)
  .transform((value, ctx) => {
    const match = /^data:(image\/(?:png|jpeg|webp));base64,([A-Za-z0-9+/]+={0,2})$/.exec(value);
    const bytes = match ? Buffer.from(match[2]!, 'base64') : undefined;
    const magic = match ? pictureTypes[match[1] as keyof typeof pictureTypes] : undefined;
    if (!match || !bytes || !magic || bytes.length > 256 * 1024 || !magic.every((b, i) => bytes[i] === b)) {
      ctx.addIssue({ code: 'custom', message: 'must be a data: URL of a PNG, JPEG or WebP image of at most 256 KiB' });
      return z.NEVER;
    }
    return { type: match[1]!, data: bytes.toString('base64') };
  });

/** `PATCH /api/v1/me`: each field set, or null to remove it; the e-mail address comes from the provider. */
export const profilePatch = z
  .object({
    first_name: optionalText(100),
    last_name: optionalText(100),
    display_name: optionalText(100),
    country: z.string().regex(/^[A-Z]{2}$/, 'must be an ISO 3166-1 alpha-2 code such as DE').nullable().optional(),
    preferred_language: z.string().regex(/^[a-z]{2,3}(-[A-Za-z0-9]{1,8})*$/, 'must be a language tag such as en or de-CH').max(35).nullable().optional(),
    organization: optionalText(200),
    job_title: optionalText(200),
    phone: z.string().regex(/^\+?[0-9][0-9 ().\/-]{2,29}$/, 'must be a phone number such as +41 44 123 45 67').nullable().optional(),
    about_me: optionalText(2000),
    picture: picture.nullable().optional(),
  })
  .strict()
  .refine((v) => Object.keys(v).length > 0, 'give at least one field');
