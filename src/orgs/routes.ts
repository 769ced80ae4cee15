/**
 * The organization routes as their part of the route table: `/api/v1/organizations/:id/…` for an
 * organization's members and admins, and `/api/v1/admin/organizations` for server admins. The gate
 * on each line decides who gets in (see gates.ts).
 */
import { z } from 'zod';
import { access, route, type AnyRoute } from '../http/route-table.ts';
import { AppError } from '../errors.ts';
import { organizationGates, personGate, serverAdminGate } from './gates.ts';
import { presentBlock, presentMember, presentOrganization, presentOrganizationFor, presentOrgInvitation } from './present.ts';
import { block, createOrganization, invite, memberPage, organizationSwitch, updateMember, updateOrganization } from './schema.ts';
import type { OrganizationsService } from './service.ts';

const orgParams = z.object({ id: z.string() });
const personParams = z.object({ id: z.string(), person_id: z.string() });
const blockParams = z.object({ id: z.string(), block_id: z.string() });
const invitationParams = z.object({ id: z.string(), invitation_id: z.string() });
const cursorOf = (m: { createdAt: string; personId: string }) => Buffer.from(`${m.createdAt}|${m.personId}`).toString('base64url');

export function organizationRoutes(orgs: OrganizationsService): AnyRoute[] {
  const { member, admin } = organizationGates(orgs);
  const serverAdmin = serverAdminGate(orgs);
  const read = access.token('read');
  const write = access.token('write');
  const present = (m: Parameters<typeof presentMember>[0]) => presentMember(m, orgs.identity.people.get(m.personId), orgs.identity.profiles.get(m.personId));

  return [
    route({
      method: 'GET', path: '/api/v1/people/:id/picture', summary: "A person's profile picture", access: read, params: orgParams, gate: personGate(orgs),
      handler: ({ gate: personId }, ctx) => {
        const picture = orgs.identity.profiles.get(personId).picture;
        if (!picture) throw new AppError('not_found', 'This person has no picture');
        ctx.type = picture.type;
        ctx.set('Cache-Control', 'private, max-age=300');
        ctx.set('Content-Security-Policy', "default-src 'none'");
        ctx.body = Buffer.from(picture.data, 'base64');
      },
    }),
    route({
      method: 'GET', path: '/api/v1/organizations/:id', summary: 'An organization, as its members see it', access: read, params: orgParams, gate: member,
      handler: ({ gate: { organization, role } }) => {
        const isAdmin = role === 'admin' || role === null;
        return presentOrganizationFor(organization, role, isAdmin ? orgs.admin.seats(organization) : undefined);
      },
    }),
    route({
      method: 'PATCH', path: '/api/v1/organizations/:id', summary: 'Switch sharing on or off for the whole organization', access: write, params: orgParams, gate: admin, body: { kind: 'json', schema: organizationSwitch },
      handler: ({ actor, body, gate: { organization, role }, ip }) => {
        const updated = orgs.admin.setSharing(actor, organization, body.sharing_enabled, ip);
        return presentOrganizationFor(updated, role, orgs.admin.seats(updated));
      },
    }),
    route({
      method: 'GET', path: '/api/v1/organizations/:id/seats', summary: 'Seats: how many, used, available', access: read, params: orgParams, gate: admin,
      handler: ({ gate: { organization } }) => orgs.admin.seats(organization),
    }),
    route({
      method: 'GET', path: '/api/v1/organizations/:id/members', summary: 'Members and partners, a page at a time', access: read, params: orgParams, gate: admin, query: memberPage,
      handler: ({ gate: { organization }, query }) => {
        const rows = orgs.repo.membersPage(organization.id, query.next, query.limit + 1);
        const page = rows.slice(0, query.limit);
        return { members: page.map(present), next: rows.length > query.limit ? cursorOf(page.at(-1)!) : null };
      },
    }),
    route({
      method: 'PATCH', path: '/api/v1/organizations/:id/members/:person_id', summary: "Change a member's role or sharing switch", access: write, params: personParams, gate: admin, body: { kind: 'json', schema: updateMember },
      handler: ({ actor, params, body, gate: { organization }, ip }) => present(orgs.admin.updateMember(actor, organization, params.person_id, body, ip)),
    }),
    route({
      method: 'DELETE', path: '/api/v1/organizations/:id/members/:person_id', summary: 'Remove a member', access: write, params: personParams, gate: admin,
      handler: ({ actor, params, gate: { organization }, ip }) => void orgs.admin.removeMember(actor, organization, params.person_id, ip),
    }),
    route({
      method: 'GET', path: '/api/v1/organizations/:id/blocked', summary: 'Blocked addresses and domains', access: read, params: orgParams, gate: admin,
      handler: ({ gate: { organization } }) => ({ blocked: orgs.blocks.list(organization.id).map(presentBlock) }),
    }),
    route({
      method: 'POST', path: '/api/v1/organizations/:id/blocked', summary: 'Block an address or a domain', access: write, params: orgParams, gate: admin, body: { kind: 'json', schema: block },
      handler: ({ actor, body, gate: { organization }, ip }, ctx) => {
        const { block: added, existed } = orgs.admin.block(actor, organization, body.kind, body.value, ip);
        ctx.status = existed ? 200 : 201;
        ctx.body = presentBlock(added);
      },
    }),
    route({
      method: 'DELETE', path: '/api/v1/organizations/:id/blocked/:block_id', summary: 'Lift a block', access: write, params: blockParams, gate: admin,
      handler: ({ actor, params, gate: { organization }, ip }) => void orgs.admin.unblock(actor, organization, params.block_id, ip),
    }),
    route({
      method: 'GET', path: '/api/v1/organizations/:id/invitations', summary: 'Pending partner invitations', access: read, params: orgParams, gate: admin,
      handler: ({ gate: { organization } }) => ({ invitations: orgs.invitations.pendingOf(organization).map(presentOrgInvitation) }),
    }),
    route({
      method: 'POST', path: '/api/v1/organizations/:id/invitations', summary: 'Invite a partner by e-mail', access: write, params: orgParams, gate: admin, body: { kind: 'json', schema: invite }, status: 201,
      handler: ({ actor, body, gate: { organization }, ip }) => presentOrgInvitation(orgs.invitations.invite(actor, organization, body.email, ip)),
    }),
    route({
      method: 'DELETE', path: '/api/v1/organizations/:id/invitations/:invitation_id', summary: 'Revoke a partner invitation', access: write, params: invitationParams, gate: admin,
      handler: ({ actor, params, gate: { organization }, ip }) => void orgs.invitations.revoke(actor, organization, params.invitation_id, ip),
    }),
    route({
      method: 'GET', path: '/api/v1/admin/organizations', summary: 'Every organization (server admins)', access: access.token('admin'), gate: serverAdmin,
      handler: () => ({ organizations: orgs.admin.list().map(({ org, seatsUsed }) => presentOrganization(org, seatsUsed)) }),
    }),
    route({
      method: 'POST', path: '/api/v1/admin/organizations', summary: 'Add an organization (server admins)', access: access.token('admin'), gate: serverAdmin, body: { kind: 'json', schema: createOrganization }, status: 201,
      handler: ({ actor, body, ip }) => presentOrganization(orgs.admin.create(actor, body, ip), 0),
    }),
    route({
      method: 'PATCH', path: '/api/v1/admin/organizations/:id', summary: 'Change an organization the API made (server admins)', access: access.token('admin'), params: orgParams, gate: serverAdmin, body: { kind: 'json', schema: updateOrganization },
      handler: ({ actor, params, body, ip }) => {
        const org = orgs.admin.update(actor, params.id, body, ip);
        return presentOrganization(org, orgs.repo.seatsUsed(org.id));
      },
    }),
  ];
}
