/**
 * The admin API over people (server admins), as its part of the route table: list and search,
 * one person with organizations, sessions and tokens, their model roles, sign-out everywhere, and
 * the server-wide block. Organization admins manage their members under /api/v1/organizations.
 */
import { AppError } from '../errors.ts';
import { access, route, type AnyRoute } from '../http/route-table.ts';
import { peopleSortKey } from '../identity/people-list.ts';
import type { Person } from '../identity/people.ts';
import { serverAdminGate } from '../orgs/gates.ts';
import type { OrganizationsService } from '../orgs/service.ts';
import { encodeCursor } from './cursor.ts';
import type { PeopleAdmin } from './people-admin.ts';
import { modelIdParams, peopleListQuery, personPageQuery } from './schema.ts';

export function peopleAdminRoutes(people: PeopleAdmin, orgs: OrganizationsService): AnyRoute[] {
  const gate = serverAdminGate(orgs);
  const admin = access.token('admin');
  const present = (p: Person) => {
    const reasons = people.adminReasons(p);
    return {
      id: p.id,
      email: p.email,
      email_verified: p.emailVerified,
      name: p.name,
      server_admin: reasons.length > 0,
      server_admin_reasons: reasons,
      blocked: p.blockedAt !== null,
      blocked_at: p.blockedAt,
      created_at: p.createdAt,
      last_sign_in_at: p.lastSignInAt,
    };
  };

  return [
    route({
      method: 'GET', path: '/api/v1/admin/people', summary: 'People: search by address or name, sort, page; who is a server admin and why (server admins)', access: admin, gate, query: peopleListQuery,
      handler: ({ query }) => {
        const order = query.order ?? (query.sort === 'name' ? 'asc' : 'desc');
        const sort = `${query.sort}:${order}`;
        if (query.next && query.next.sort !== sort) throw new AppError('validation_failed', 'next belongs to another sort; start again without it', { extra: { errors: [{ field: 'next', message: 'cursor of another sort' }] } });
        const found = people.page({ search: query.q, serverAdmin: query.server_admin, blocked: query.blocked, sort: query.sort, order, after: query.next, limit: query.limit });
        const last = found.people.at(-1);
        return { people: found.people.map(present), next: found.more && last ? encodeCursor({ sort, key: peopleSortKey(query.sort, last), id: last.id }) : null };
      },
    }),
    route({
      method: 'GET', path: '/api/v1/admin/people/:id', summary: "A person: organizations, sessions, desktop logins and tokens (server admins)", access: admin, params: modelIdParams, gate,
      handler: ({ params }) => {
        const person = people.get(params.id);
        return { ...present(person), organizations: people.organizationsOf(person.id), ...people.credentialsOf(person.id) };
      },
    }),
    route({
      method: 'GET', path: '/api/v1/admin/people/:id/models', summary: "A person's model roles, a page at a time (server admins)", access: admin, params: modelIdParams, gate, query: personPageQuery,
      handler: ({ params, query }) => {
        const person = people.get(params.id);
        if (query.next && query.next.sort !== 'model') throw new AppError('validation_failed', 'next is not a cursor of this list', { extra: { errors: [{ field: 'next', message: 'cursor of another list' }] } });
        const rows = people.modelRoles(person.id, query.next?.id ?? '', query.limit + 1);
        const page = rows.slice(0, query.limit);
        return {
          models: page.map((m) => ({ model_id: m.id, name: m.name, organization_id: m.organizationId, role: m.role })),
          next: rows.length > query.limit ? encodeCursor({ sort: 'model', key: '', id: page.at(-1)!.id }) : null,
        };
      },
    }),
    route({
      method: 'POST', path: '/api/v1/admin/people/:id/sign-out', summary: 'Sign a person out everywhere: sessions, desktop logins, tokens (server admins)', access: admin, params: modelIdParams, gate,
      handler: ({ actor, params, ip }) => ({ ended: people.signOutEverywhere(actor, params.id, ip) }),
    }),
    route({
      method: 'POST', path: '/api/v1/admin/people/:id/block', summary: 'Block a person server-wide and sign them out everywhere (server admins)', access: admin, params: modelIdParams, gate,
      handler: ({ actor, params, ip }) => present(people.block(actor, params.id, ip)),
    }),
    route({
      method: 'DELETE', path: '/api/v1/admin/people/:id/block', summary: 'Lift the server-wide block of a person (server admins)', access: admin, params: modelIdParams, gate,
      handler: ({ actor, params, ip }) => present(people.unblock(actor, params.id, ip)),
    }),
  ];
}
