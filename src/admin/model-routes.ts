/**
 * The admin API over models, as their part of the route table: an organization's models for its
 * admins under `/api/v1/organizations/:id/models`, and every model for server admins under
 * `/api/v1/admin/models`. Lists page by keyset, sort and search by name (see sharing/admin-list.ts);
 * re-own, delete and restore go through the sharing service, which audits them and tells the
 * model's event stream, exactly as when an owner does it.
 */
import { AppError } from '../errors.ts';
import type { Actor } from '../http/authenticate.ts';
import { access, route, type AnyRoute } from '../http/route-table.ts';
import { organizationGates, serverAdminGate } from '../orgs/gates.ts';
import type { OrganizationsService } from '../orgs/service.ts';
import { sortKey, type ModelSort, type ModelSummary, type SortOrder } from '../sharing/admin-list.ts';
import { presentInvitation, presentMember } from '../sharing/present.ts';
import type { Sharing } from '../sharing/setup.ts';
import { encodeCursor, type Cursor } from './cursor.ts';
import { adminModelListQuery, modelIdParams, modelListQuery, organizationModelParams, transferOwner } from './schema.ts';

export interface ModelAdminDeps {
  sharing: Sharing;
  orgs: OrganizationsService;
  displayName(personId: string): string;
}

type ListInput = { q?: string | undefined; sort: ModelSort; order?: SortOrder | undefined; deleted: 'exclude' | 'include' | 'only'; limit: number; next?: Cursor | undefined };

export function modelAdminRoutes(d: ModelAdminDeps): AnyRoute[] {
  const { admin } = organizationGates(d.orgs);
  const serverAdmin = serverAdminGate(d.orgs);
  const { models, invitations, list } = d.sharing;
  const present = (m: ModelSummary) => ({
    id: m.id,
    name: m.name,
    organization_id: m.organizationId,
    owner: { id: m.ownerId, display_name: d.displayName(m.ownerId) },
    size: m.bytes,
    packet_count: m.packets,
    member_count: m.members,
    head: m.head,
    last_activity_at: m.lastActivityAt,
    created_at: m.createdAt,
    updated_at: m.updatedAt,
    deleted: m.deletedAt !== null,
    deleted_at: m.deletedAt,
  });

  const page = (organizationId: string | null, query: ListInput) => {
    const order = query.order ?? (query.sort === 'name' ? 'asc' : 'desc');
    const sort = `${query.sort}:${order}`;
    if (query.next && query.next.sort !== sort) {
      throw new AppError('validation_failed', 'next belongs to another sort; start again without it', { extra: { errors: [{ field: 'next', message: 'cursor of another sort' }] } });
    }
    const found = list.page({ organizationId, deleted: query.deleted, search: query.q, sort: query.sort, order, after: query.next, limit: query.limit });
    const last = found.models.at(-1);
    return { models: found.models.map(present), next: found.more && last ? encodeCursor({ sort, key: sortKey(query.sort, last), id: last.id }) : null };
  };

  /** The model, when it belongs to the organization; any other model does not exist here, and asking is audited. */
  const ofOrganization = (actor: Actor, organizationId: string, modelId: string, source: string): ModelSummary => {
    const model = list.get(modelId);
    if (!model || model.organizationId !== organizationId) {
      d.orgs.record(actor.person, { action: 'model.admin', outcome: 'denied', reason: 'not_found', target: { type: 'model', id: modelId }, source, details: { organization_id: organizationId } });
      throw new AppError('not_found', 'There is no such model in this organization');
    }
    return model;
  };
  const anyModel = (modelId: string): ModelSummary => {
    const model = list.get(modelId);
    if (!model) throw new AppError('not_found', 'There is no such model');
    return model;
  };

  const administer = { administer: true };
  const actions = (prefix: string, scope: 'organization' | 'server'): AnyRoute[] => {
    const gate = scope === 'organization' ? admin : serverAdmin;
    const params = scope === 'organization' ? organizationModelParams : modelIdParams;
    const read = scope === 'organization' ? access.token('read') : access.token('admin');
    const write = scope === 'organization' ? access.token('write') : access.token('admin');
    const who = scope === 'organization' ? 'organization admins' : 'server admins';
    const find = (actor: Actor, p: Record<string, string>, source: string) =>
      scope === 'organization' ? ofOrganization(actor, p['id']!, p['model_id']!, source) : anyModel(p['id']!);
    return [
      route({
        method: 'GET', path: prefix, summary: `A model with its size, packets, members and last activity (${who})`, access: read, params, gate,
        handler: ({ actor, params: p, ip }) => present(find(actor, p, ip)),
      }),
      route({
        method: 'GET', path: `${prefix}/members`, summary: `A model's members (${who})`, access: read, params, gate,
        handler: ({ actor, params: p, ip }) => {
          const model = find(actor, p, ip);
          return { members: models.members(actor, model.id, ip, { ...administer, deleted: model.deletedAt !== null }).map((m) => presentMember(m, d.displayName(m.personId))) };
        },
      }),
      route({
        method: 'GET', path: `${prefix}/invitations`, summary: `A model's pending invitations (${who})`, access: read, params, gate,
        handler: ({ actor, params: p, ip }) => {
          const model = find(actor, p, ip);
          return { invitations: invitations.pending(actor, model.id, ip, { ...administer, deleted: model.deletedAt !== null }).map(presentInvitation) };
        },
      }),
      route({
        method: 'POST', path: `${prefix}/owner`, summary: `Give a model another owner (${who})`, access: write, params, gate, body: { kind: 'json', schema: transferOwner },
        handler: ({ actor, params: p, body, ip }) => {
          const model = find(actor, p, ip);
          models.transfer(actor, model.id, body.user_id, ip, administer);
          return present(list.get(model.id)!);
        },
      }),
      route({
        method: 'DELETE', path: prefix, summary: `Delete a model; restorable until retention purges it (${who})`, access: write, params, gate,
        handler: ({ actor, params: p, ip }) => void models.remove(actor, find(actor, p, ip).id, ip, administer),
      }),
      route({
        method: 'POST', path: `${prefix}/restore`, summary: `Restore a deleted model (${who})`, access: write, params, gate,
        handler: ({ actor, params: p, ip }) => {
          const model = find(actor, p, ip);
          models.restore(actor, model.id, ip, administer);
          return present(list.get(model.id)!);
        },
      }),
    ];
  };

  return [
    route({
      method: 'GET', path: '/api/v1/organizations/:id/models', summary: "The organization's models: search, sort, page (organization admins)", access: access.token('read'), params: modelIdParams, gate: admin, query: modelListQuery,
      handler: ({ gate: { organization }, query }) => page(organization.id, query),
    }),
    ...actions('/api/v1/organizations/:id/models/:model_id', 'organization'),
    route({
      method: 'GET', path: '/api/v1/admin/models', summary: 'Every model of the server: search, sort, page (server admins)', access: access.token('admin'), gate: serverAdmin, query: adminModelListQuery,
      handler: ({ query }) => page(query.organization_id ?? null, query),
    }),
    ...actions('/api/v1/admin/models/:id', 'server'),
  ];
}
