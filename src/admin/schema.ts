/** Input of the admin API's lists and actions, checked at the edge. */
import { z } from 'zod';
import { cursorParam, limitParam, normalizeSearch } from './cursor.ts';

const search = z.string().max(200).transform(normalizeSearch).pipe(z.string().min(1, 'must not be empty')).optional();
const id = z.string().regex(/^[A-Za-z0-9._~-]{1,200}$/, 'is not an id');

/** `GET …/models`: `?q=` part of the name, `?sort=name|size|activity|created`, `?order=asc|desc`, `?deleted=exclude|include|only`. */
export const modelListQuery = z
  .object({
    limit: limitParam,
    next: cursorParam.optional(),
    q: search,
    sort: z.enum(['name', 'size', 'activity', 'created']).default('created'),
    order: z.enum(['asc', 'desc']).optional(),
    deleted: z.enum(['exclude', 'include', 'only']).default('exclude'),
  })
  .strict();

/** Server admins may narrow the list of every model to one organization. */
export const adminModelListQuery = modelListQuery.extend({ organization_id: id.optional() }).strict();

export const organizationModelParams = z.object({ id, model_id: id });
export const modelIdParams = z.object({ id });
export const transferOwner = z.object({ user_id: id }).strict();

/** `GET /api/v1/admin/people`: `?q=` an exact e-mail address or part of a name or address, `?server_admin=true`, `?blocked=true`. */
export const peopleListQuery = z
  .object({
    limit: limitParam,
    next: cursorParam.optional(),
    q: search,
    sort: z.enum(['name', 'created', 'last_sign_in']).default('created'),
    order: z.enum(['asc', 'desc']).optional(),
    server_admin: z.enum(['true', 'false']).transform((v) => v === 'true').optional(),
    blocked: z.enum(['true', 'false']).transform((v) => v === 'true').optional(),
  })
  .strict();

export const personPageQuery = z.object({ limit: limitParam, next: cursorParam.optional() }).strict();
