/**
 * The resource gates of the organization routes, on `:id`: `member` lets in the organization's
 * members, `admin` its admins (server admins pass both). To anyone else the organization does not
 * exist (404); a member who is not an admin gets 403. Every refusal is audited.
 */
import { AppError } from '../errors.ts';
import type { Actor } from '../http/authenticate.ts';
import type { Gate } from '../http/route-table.ts';
import type { Organization } from './repo.ts';
import { isServerAdmin, type OrganizationsService } from './service.ts';

export interface OrgStanding {
  organization: Organization;
  /** The caller's role in it; null for a server admin who is no member. */
  role: string | null;
}

function audited(orgs: OrganizationsService, action: string, find: (actor: Actor, id: string) => OrgStanding) {
  return (actor: Actor, params: Record<string, string>, ctx: { ip: string }): OrgStanding => {
    try {
      return find(actor, params['id']!);
    } catch (error) {
      if (error instanceof AppError) orgs.record(actor.person, { action, outcome: 'denied', reason: error.code, target: { type: 'organization', id: params['id']! }, source: ctx.ip });
      throw error;
    }
  };
}

export function organizationGates(orgs: OrganizationsService) {
  const member: Gate<OrgStanding> = {
    name: 'organization:member',
    refusals: [
      { caller: 'other_org', status: 404, code: 'not_found' },
      { caller: 'removed', status: 404, code: 'not_found' },
    ],
    check: audited(orgs, 'org.view', (actor, id) => {
      const { org, membership } = orgs.visibleTo(actor, id);
      return { organization: org, role: membership?.role ?? null };
    }),
  };
  const admin: Gate<OrgStanding> = {
    name: 'organization:admin',
    refusals: [...member.refusals, { caller: 'member', status: 403, code: 'forbidden' }],
    check: audited(orgs, 'org.admin', (actor, id) => {
      const organization = orgs.administeredBy(actor, id);
      return { organization, role: orgs.repo.membership(organization.id, actor.person.id)?.role ?? null };
    }),
  };
  return { member, admin };
}

/** Gate: a server admin (from the config, a provider group or a break-glass token). */
export function serverAdminGate(orgs: OrganizationsService): Gate<undefined> {
  return {
    name: 'server_admin',
    refusals: [{ caller: 'not_server_admin', status: 403, code: 'forbidden' }],
    check: (actor, _params, ctx) => {
      if (!isServerAdmin(actor)) {
        orgs.record(actor.person, { action: 'server.admin', outcome: 'denied', reason: 'forbidden', source: ctx.ip, details: { path: ctx.path, method: ctx.method } });
        throw new AppError('forbidden', 'Only server admins may do this');
      }
    },
  };
}

/**
 * The person of `:id`, for the person themselves, an admin of an organization they belong to, or a
 * server admin; to anyone else they do not exist. Personal fields leave the server only this way.
 */
export function personGate(orgs: OrganizationsService): Gate<string> {
  return {
    name: 'person',
    refusals: [
      { caller: 'member', status: 404, code: 'not_found' },
      { caller: 'other_org', status: 404, code: 'not_found' },
    ],
    check: (actor, params) => {
      const id = params['id']!;
      if (id === actor.person.id || isServerAdmin(actor)) return id;
      const administers = orgs.repo.membershipsOf(id).some((m) => orgs.repo.membership(m.organizationId, actor.person.id)?.role === 'admin');
      if (!administers) throw new AppError('not_found', 'There is no such person');
      return id;
    },
  };
}
