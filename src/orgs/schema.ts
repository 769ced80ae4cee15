/** Input of the organization calls, checked at the edge; past here values are typed. */
import { z } from 'zod';

const domain = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/, 'must be a domain such as firm.example')
  .max(253);
const unique = <T>(list: T[]) => new Set(list).size === list.length;

/** `POST /api/v1/admin/organizations`. */
export const createOrganization = z
  .object({
    name: z.string().trim().min(1).max(200),
    domains: z.array(domain).max(50).refine(unique, 'must not repeat a domain').default([]),
    admin_groups: z.array(z.string().min(1).max(200)).max(50).refine(unique, 'must not repeat a group').default([]),
    seats: z.number().int().min(0).max(1_000_000),
  })
  .strict();

/** `PATCH /api/v1/admin/organizations/:id`: any of the fields. */
export const updateOrganization = z
  .object({
    name: z.string().trim().min(1).max(200).optional(),
    domains: z.array(domain).max(50).refine(unique, 'must not repeat a domain').optional(),
    admin_groups: z.array(z.string().min(1).max(200)).max(50).refine(unique, 'must not repeat a group').optional(),
    seats: z.number().int().min(0).max(1_000_000).optional(),
  })
  .strict()
  .refine((v) => Object.keys(v).length > 0, 'give at least one field');

/** `PATCH /api/v1/organizations/:id`: the organization-wide switch. */
export const organizationSwitch = z.object({ sharing_enabled: z.boolean() }).strict();

/** `PATCH /api/v1/organizations/:id/members/:person_id`. */
export const updateMember = z
  .object({ role: z.enum(['admin', 'member', 'partner']).optional(), sharing_enabled: z.boolean().optional() })
  .strict()
  .refine((v) => Object.keys(v).length > 0, 'give role or sharing_enabled');

/** `POST /api/v1/organizations/:id/blocked`: an address, or a domain (its subdomains included). */
export const block = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('address'), value: z.email().max(254) }).strict(),
  z.object({ kind: z.literal('domain'), value: z.string().transform((v) => v.trim().replace(/^@/, '')).pipe(domain) }).strict(),
]);

/** `POST /api/v1/organizations/:id/invitations`. */
export const invite = z.object({ email: z.email().max(254), role: z.literal('partner').default('partner') }).strict();

/** `?limit=&next=` of a list (PROTOCOL.md: default 50, at most 200). */
export const page = z.object({
  // Digits only: z.coerce.number() would also take 0x2, 2e0 and " 2".
  limit: z
    .string()
    .regex(/^[0-9]{1,3}$/, 'a whole number')
    .optional()
    .transform((v) => (v === undefined ? 50 : Number(v)))
    .pipe(z.number().int().min(1).max(200)),
  next: z
    .string()
    .regex(/^[0-9]{1,6}$/)
    .transform(Number)
    .optional(),
});

/** `?limit=&next=` of the member list: `next` is the opaque cursor of the last member of a page. */
export const memberPage = z.object({
  limit: z.string().regex(/^[1-9]\d{0,2}$/, 'must be from 1 to 200').transform(Number).pipe(z.number().max(200, 'must be from 1 to 200')).optional().transform((v) => v ?? 50),
  next: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,300}$/, 'is not a cursor this server gave')
    .transform((v, ctx) => {
      const [createdAt, personId] = Buffer.from(v, 'base64url').toString('utf8').split('|');
      if (!createdAt || !personId) {
        ctx.addIssue({ code: 'custom', message: 'is not a cursor this server gave' });
        return z.NEVER;
      }
      return { createdAt, personId };
    })
    .optional(),
});
