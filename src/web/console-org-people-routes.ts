/**
 * More console pages of organization admins: partner invitations, blocked addresses and domains,
 * and changing a model's owner. Same `organization:admin` gate as the API; the domain services act.
 */
import { z } from 'zod';
import { access, route, type AnyRoute } from '../http/route-table.ts';
import { organizationGates } from '../orgs/gates.ts';
import { block, invite } from '../orgs/schema.ts';
import { assertInOrganization, sendConsolePage, seeOther, type ConsoleDeps } from './console-context.ts';
import { html } from './html.ts';
import { confirmBody, csrfField } from './layout.ts';
import { orgNav } from './org-nav.ts';

const orgParams = z.object({ id: z.string() });
const blockParams = z.object({ id: z.string(), block_id: z.string() });
const invitationParams = z.object({ id: z.string(), invitation_id: z.string() });
const modelParams = z.object({ id: z.string(), model_id: z.string() });
const day = (iso: string) => iso.slice(0, 10);

export function consoleOrgPeopleRoutes(d: ConsoleDeps): AnyRoute[] {
  const { admin } = organizationGates(d.orgs);
  const base = (id: string) => `/console/organizations/${encodeURIComponent(id)}`;
  return [
    route({
      method: 'GET', path: '/console/organizations/:id/partners', summary: 'Console: partner invitations', access: access.session, html: true, params: orgParams, gate: admin,
      handler: ({ actor, gate: { organization } }, ctx) => {
        const pending = d.orgs.invitations.pendingOf(organization);
        const rows = pending.map((i) => html`<tr><td>${i.email}</td><td>${d.identity.publicPerson(i.invitedBy).display_name}</td><td>${day(i.expiresAt)}</td>
<td><form method="post" action="${base(organization.id)}/partners/${encodeURIComponent(i.id)}/revoke" class="inline">${csrfField(actor.csrfToken!)}<button type="submit" class="secondary">Withdraw invitation to ${i.email}</button></form></td></tr>`);
        const body = html`${orgNav(organization.id)}
<h2>Invite a partner</h2>
<p>A partner works on the organization's models from another company. They get an e-mail and join when they accept.</p>
<form method="post" action="${base(organization.id)}/partners" class="stack">${csrfField(actor.csrfToken!)}
<div><label for="partner-email">Partner's e-mail address</label><input id="partner-email" name="email" type="email" required maxlength="254"></div>
<button type="submit">Send invitation</button></form>
<h2>Pending invitations</h2>
${pending.length === 0 ? html`<p>No invitation is pending.</p>` : html`<table><thead><tr><th scope="col">Address</th><th scope="col">Invited by</th><th scope="col">Expires</th><th scope="col">Action</th></tr></thead><tbody>${rows}</tbody></table>`}`;
        sendConsolePage(d, ctx, actor, `${organization.name}: partners`, body);
      },
    }),
    route({
      method: 'POST', path: '/console/organizations/:id/partners', summary: 'Console: invite a partner', access: access.session, html: true, params: orgParams, gate: admin, body: { kind: 'form', schema: invite },
      handler: ({ actor, body, gate: { organization }, ip }, ctx) => {
        d.orgs.invitations.invite(actor, organization, body.email, ip);
        seeOther(ctx, `${base(organization.id)}/partners`);
      },
    }),
    route({
      method: 'POST', path: '/console/organizations/:id/partners/:invitation_id/revoke', summary: 'Console: withdraw a partner invitation', access: access.session, html: true, params: invitationParams, gate: admin, body: { kind: 'form', schema: z.object({}) },
      handler: ({ actor, params, gate: { organization }, ip }, ctx) => {
        d.orgs.invitations.revoke(actor, organization, params.invitation_id, ip);
        seeOther(ctx, `${base(organization.id)}/partners`);
      },
    }),
    route({
      method: 'GET', path: '/console/organizations/:id/blocked', summary: 'Console: blocked addresses and domains', access: access.session, html: true, params: orgParams, gate: admin,
      handler: ({ actor, gate: { organization } }, ctx) => {
        const blocks = d.orgs.blocks.list(organization.id);
        const rows = blocks.map((b) => html`<tr><td>${b.kind}</td><td>${b.value}</td><td>${day(b.createdAt)}</td><td><a href="${base(organization.id)}/blocked/${encodeURIComponent(b.id)}/lift">Lift the block on ${b.value}</a></td></tr>`);
        const body = html`${orgNav(organization.id)}
<p>A blocked address or domain cannot share, join or be invited in this organization; it takes effect at once.</p>
<form method="post" action="${base(organization.id)}/blocked" class="filters">${csrfField(actor.csrfToken!)}
<div><label for="block-kind">Block</label><select id="block-kind" name="kind"><option value="address">an e-mail address</option><option value="domain">a domain</option></select></div>
<div><label for="block-value">Address or domain</label><input id="block-value" name="value" required maxlength="254"></div>
<button type="submit">Block</button></form>
${blocks.length === 0 ? html`<p>Nothing is blocked.</p>` : html`<table><thead><tr><th scope="col">Kind</th><th scope="col">Value</th><th scope="col">Since</th><th scope="col">Action</th></tr></thead><tbody>${rows}</tbody></table>`}`;
        sendConsolePage(d, ctx, actor, `${organization.name}: blocked`, body);
      },
    }),
    route({
      method: 'POST', path: '/console/organizations/:id/blocked', summary: 'Console: block an address or domain', access: access.session, html: true, params: orgParams, gate: admin, body: { kind: 'form', schema: block },
      handler: ({ actor, body, gate: { organization }, ip }, ctx) => {
        d.orgs.admin.block(actor, organization, body.kind, body.value, ip);
        seeOther(ctx, `${base(organization.id)}/blocked`);
      },
    }),
    route({
      method: 'GET', path: '/console/organizations/:id/blocked/:block_id/lift', summary: 'Console: confirm lifting a block', access: access.session, html: true, params: blockParams, gate: admin,
      handler: ({ actor, params, gate: { organization } }, ctx) => {
        const found = d.orgs.blocks.list(organization.id).find((b) => b.id === params.block_id);
        if (!found) return sendConsolePage(d, ctx, actor, 'No such block', html`<p>This block does not exist or was lifted. <a href="${base(organization.id)}/blocked">Back to the blocked list</a></p>`, 404);
        const what = html`Lift the block on the ${found.kind} <strong>${found.value}</strong>. Its people may be invited again and, once they sign in again, share in this organization.`;
        sendConsolePage(d, ctx, actor, 'Lift a block?', confirmBody(what, `${base(organization.id)}/blocked/${encodeURIComponent(found.id)}/lift`, 'Lift block', actor.csrfToken!, `${base(organization.id)}/blocked`));
      },
    }),
    route({
      method: 'POST', path: '/console/organizations/:id/blocked/:block_id/lift', summary: 'Console: lift a block', access: access.session, html: true, params: blockParams, gate: admin, body: { kind: 'form', schema: z.object({}) },
      handler: ({ actor, params, gate: { organization }, ip }, ctx) => {
        d.orgs.admin.unblock(actor, organization, params.block_id, ip);
        seeOther(ctx, `${base(organization.id)}/blocked`);
      },
    }),
    route({
      method: 'GET', path: '/console/organizations/:id/models/:model_id/owner', summary: "Console: choose a model's new owner", access: access.session, html: true, params: modelParams, gate: admin,
      handler: ({ actor, params, gate: { organization } }, ctx) => {
        assertInOrganization(d, params.model_id, organization.id);
        const model = d.sharing.routeDeps.repo.get(params.model_id)!;
        const members = d.orgs.repo.members(organization.id).filter((m) => m.personId !== model.ownerId);
        const body = html`<p>The model <strong>${model.name}</strong> is owned by ${d.identity.publicPerson(model.ownerId).display_name}. The new owner gets every right on it; the current owner stays on the model as an admin.</p>
<form method="post" action="${base(organization.id)}/models/${encodeURIComponent(model.id)}/owner" class="stack">${csrfField(actor.csrfToken!)}
<div><label for="new-owner">New owner</label><select id="new-owner" name="user_id">${members.map((m) => html`<option value="${m.personId}">${d.identity.publicPerson(m.personId).display_name} (${m.role})</option>`)}</select></div>
<button type="submit">Change owner</button> <a href="${base(organization.id)}/models">Cancel, go back</a></form>`;
        sendConsolePage(d, ctx, actor, 'Change the owner', body);
      },
    }),
    route({
      method: 'POST', path: '/console/organizations/:id/models/:model_id/owner', summary: "Console: change a model's owner", access: access.session, html: true, params: modelParams, gate: admin, body: { kind: 'form', schema: z.object({ user_id: z.string().max(100) }) },
      handler: ({ actor, params, body, gate: { organization }, ip }, ctx) => {
        assertInOrganization(d, params.model_id, organization.id);
        d.sharing.models.transfer(actor, params.model_id, body.user_id, ip);
        seeOther(ctx, `${base(organization.id)}/models`);
      },
    }),
  ];
}
