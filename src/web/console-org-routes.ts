/**
 * The console pages of organization admins, at `/console/organizations/:id/…`, behind the same
 * `organization:admin` gate as the API: members and partners with seats and the sharing switch, the
 * organization's models (search, sort, page; delete and restore), and the audit log with its export.
 */
import { z } from 'zod';
import { access, route, type AnyRoute } from '../http/route-table.ts';
import { organizationGates } from '../orgs/gates.ts';
import { assertInOrganization, sendConsolePage, seeOther, type ConsoleDeps } from './console-context.ts';
import { auditExport } from '../audit/export.ts';
import type { AuditFilter } from '../audit/query.ts';
import { cursorParam, encodeCursor, normalizeSearch } from '../admin/cursor.ts';
import { sortKey } from '../sharing/admin-list.ts';
import { html } from './html.ts';
import { confirmBody, csrfField } from './layout.ts';
import { orgNav } from './org-nav.ts';

const orgParams = z.object({ id: z.string() });
const memberParams = z.object({ id: z.string(), person_id: z.string() });
const modelParams = z.object({ id: z.string(), model_id: z.string() });
const modelQuery = z.object({
  q: z.string().max(200).default(''),
  sort: z.enum(['name', 'activity', 'size', 'created']).default('name'),
  deleted: z.enum(['0', '1']).default('0').transform((v) => v === '1'),
  /** Where the page starts (the admin API's keyset cursor), and its number, for the reader. */
  next: cursorParam.optional(),
  page: z.string().regex(/^[1-9]\d{0,5}$/, 'must be a page number').default('1').transform(Number),
});
const isoDay = z.string().regex(/^(\d{4}-\d{2}-\d{2})?$/, 'must be a date such as 2026-01-31').default('');
const auditQuery = z.object({
  action: z.string().regex(/^[a-z_.]{0,60}$/, 'must be an action name such as model.delete').default(''),
  outcome: z.enum(['', 'allowed', 'denied', 'failed']).default(''),
  from: isoDay,
  to: isoDay,
});
const perPage = 50;
const date = (iso: string | null | undefined) => (iso ? iso.slice(0, 16).replace('T', ' ') : '—');
const nextDay = (day: string) => (day ? new Date(Date.parse(`${day}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10) : '');

export function consoleOrgRoutes(d: ConsoleDeps): AnyRoute[] {
  const { admin } = organizationGates(d.orgs);
  const base = (id: string) => `/console/organizations/${encodeURIComponent(id)}`;
  /** The page's filters as the admin API's audit query takes them; days compare as prefixes of the RFC 3339 times. */
  const filterOf = (q: z.infer<typeof auditQuery>): AuditFilter => ({
    actionPrefix: q.action || undefined,
    outcome: q.outcome || undefined,
    from: q.from || undefined,
    to: nextDay(q.to) || undefined,
  });

  return [
    route({
      method: 'GET', path: '/console/organizations/:id', summary: 'Console: members, partners and seats', access: access.session, html: true, params: orgParams, gate: admin,
      handler: ({ actor, gate: { organization } }, ctx) => {
        const seats = d.orgs.admin.seats(organization);
        const members = d.orgs.repo.members(organization.id);
        const rows = members.map((m) => {
          const person = d.identity.people.get(m.personId);
          const name = d.identity.publicPerson(m.personId).display_name;
          const to = m.sharingEnabled ? 'off' : 'on';
          return html`<tr><td>${name}</td><td>${person?.email ?? '—'}</td><td>${m.role}</td><td>${m.sharingEnabled ? 'on' : 'off'}</td>
<td>${m.personId === actor.person.id ? '' : html`<form method="post" action="${base(organization.id)}/members/${encodeURIComponent(m.personId)}/role" class="inline">${csrfField(actor.csrfToken!)}<label for="role-${m.personId}">Role of ${name}</label> <select id="role-${m.personId}" name="role">${(['admin', 'member', 'partner'] as const).map((r) => html`<option value="${r}"${m.role === r ? html` selected` : ''}>${r}</option>`)}</select> <button type="submit" class="secondary">Set role</button></form> `}<form method="post" action="${base(organization.id)}/members/${encodeURIComponent(m.personId)}/sharing" class="inline">${csrfField(actor.csrfToken!)}<input type="hidden" name="sharing" value="${to}"><button type="submit" class="secondary">Turn sharing ${to} for ${name}</button></form></td></tr>`;
        });
        const body = html`${orgNav(organization.id)}
<p>Sharing seats: <strong>${seats.used}</strong> of ${seats.seats} in use, ${seats.available} available. Sharing for the whole organization is <strong>${organization.sharingEnabled ? 'on' : 'off'}</strong>.</p>
<h2>Members and partners</h2>
<table><thead><tr><th scope="col">Name</th><th scope="col">Address</th><th scope="col">Role</th><th scope="col">Sharing</th><th scope="col">Change</th></tr></thead><tbody>${rows}</tbody></table>`;
        sendConsolePage(d, ctx, actor, organization.name, body);
      },
    }),
    route({
      method: 'POST', path: '/console/organizations/:id/members/:person_id/sharing', summary: "Console: switch a member's sharing", access: access.session, html: true, params: memberParams, gate: admin,
      body: { kind: 'form', schema: z.object({ sharing: z.enum(['on', 'off']) }) },
      handler: ({ actor, params, body, gate: { organization }, ip }, ctx) => {
        d.orgs.admin.updateMember(actor, organization, params.person_id, { sharing_enabled: body.sharing === 'on' }, ip);
        seeOther(ctx, base(organization.id));
      },
    }),
    route({
      method: 'POST', path: '/console/organizations/:id/members/:person_id/role', summary: "Console: change a member's role", access: access.session, html: true, params: memberParams, gate: admin,
      body: { kind: 'form', schema: z.object({ role: z.enum(['admin', 'member', 'partner']) }) },
      handler: ({ actor, params, body, gate: { organization }, ip }, ctx) => {
        d.orgs.admin.updateMember(actor, organization, params.person_id, { role: body.role }, ip);
        seeOther(ctx, base(organization.id));
      },
    }),
    route({
      method: 'GET', path: '/console/organizations/:id/models', summary: "Console: the organization's models", access: access.session, html: true, params: orgParams, gate: admin, query: modelQuery,
      handler: ({ actor, query, gate: { organization } }, ctx) => {
        // The admin API's list (sharing/admin-list.ts): keyset pages, names opened on the server.
        const order = query.sort === 'name' ? 'asc' : 'desc';
        const sort = `${query.sort}:${order}`;
        const scope = { organizationId: organization.id, deleted: query.deleted ? ('only' as const) : ('exclude' as const), search: normalizeSearch(query.q) || undefined };
        const after = query.next && query.next.sort === sort ? query.next : undefined;
        const { models, more } = d.sharing.list.page({ ...scope, sort: query.sort, order, after, limit: perPage });
        const total = d.sharing.list.count(scope);
        const pages = Math.max(1, Math.ceil(total / perPage));
        const page = after ? query.page : 1;
        const last = models.at(-1);
        const link = (next: string | null, n: number) => `${base(organization.id)}/models?${new URLSearchParams({ q: query.q, sort: query.sort, deleted: query.deleted ? '1' : '0', ...(next ? { next, page: String(n) } : {}) })}`;
        const rows = models.map((m) => {
          const action = query.deleted
            ? html`<form method="post" action="${base(organization.id)}/models/${encodeURIComponent(m.id)}/restore" class="inline">${csrfField(actor.csrfToken!)}<button type="submit" class="secondary">Restore ${m.name}</button></form>`
            : html`<a href="/console/models/${encodeURIComponent(m.id)}">Administer ${m.name}</a> · <a href="${base(organization.id)}/models/${encodeURIComponent(m.id)}/owner">Change owner of ${m.name}</a> · <a href="${base(organization.id)}/models/${encodeURIComponent(m.id)}/delete">Delete ${m.name}</a>`;
          const lock = d.sharing.locks.get(m.id);
          return html`<tr><td>${m.name}${lock ? html` <strong class="locked">locked</strong>` : ''}</td><td>${d.identity.publicPerson(m.ownerId).display_name}</td><td>${date(m.lastActivityAt)}</td><td>${m.bytes}</td><td>${date(m.createdAt)}</td><td>${action}</td></tr>`;
        });
        const sortOption = (value: string, label: string) => html`<option value="${value}"${query.sort === value ? html` selected` : ''}>${label}</option>`;
        const body = html`${orgNav(organization.id)}
<form method="get" action="${base(organization.id)}/models" class="filters" role="search">
<div><label for="model-q">Search by name</label><input id="model-q" name="q" type="search" value="${query.q}"></div>
<div><label for="model-sort">Sort by</label><select id="model-sort" name="sort">${sortOption('name', 'Name')}${sortOption('activity', 'Last activity')}${sortOption('size', 'Size')}${sortOption('created', 'Created')}</select></div>
<div><label for="model-deleted">Show</label><select id="model-deleted" name="deleted"><option value="0"${query.deleted ? '' : html` selected`}>Current models</option><option value="1"${query.deleted ? html` selected` : ''}>Deleted models</option></select></div>
<button type="submit">Show</button></form>
<p id="model-count">${total} model${total === 1 ? '' : 's'}; page ${page} of ${pages}.</p>
<table><thead><tr><th scope="col">Model</th><th scope="col">Owner</th><th scope="col">Last activity</th><th scope="col">Bytes</th><th scope="col">Created</th><th scope="col">Action</th></tr></thead><tbody>${rows}</tbody></table>
<nav aria-label="Pages" class="pager">${page > 1 ? html`<a href="${link(null, 1)}">First page</a>` : ''}${more && last ? html`<a href="${link(encodeCursor({ sort, key: sortKey(query.sort, last), id: last.id }), page + 1)}" rel="next">Next page</a>` : ''}</nav>`;
        sendConsolePage(d, ctx, actor, `${organization.name}: models`, body);
      },
    }),
    route({
      method: 'GET', path: '/console/organizations/:id/models/:model_id/delete', summary: 'Console: confirm deleting a model', access: access.session, html: true, params: modelParams, gate: admin,
      handler: ({ actor, params, gate: { organization } }, ctx) => {
        const model = d.sharing.routeDeps.repo.get(params.model_id);
        if (!model || model.organizationId !== organization.id || model.deletedAt) {
          return sendConsolePage(d, ctx, actor, 'No such model', html`<p>This model does not exist here or is already deleted. <a href="${base(organization.id)}/models">Back to the models</a></p>`, 404);
        }
        const members = d.sharing.routeDeps.repo.members(model.id).length;
        const what = html`Delete the model <strong>${model.name}</strong>. Its ${members} member${members === 1 ? '' : 's'} lose access at once and desktop clients stop syncing it. It can be restored from the deleted models until retention removes it for good.`;
        sendConsolePage(d, ctx, actor, 'Delete a model?', confirmBody(what, `${base(organization.id)}/models/${encodeURIComponent(model.id)}/delete`, 'Delete model', actor.csrfToken!, `${base(organization.id)}/models`));
      },
    }),
    route({
      method: 'POST', path: '/console/organizations/:id/models/:model_id/delete', summary: 'Console: delete a model', access: access.session, html: true, params: modelParams, gate: admin, body: { kind: 'form', schema: z.object({}) },
      handler: ({ actor, params, gate: { organization }, ip }, ctx) => {
        assertInOrganization(d, params.model_id, organization.id);
        d.sharing.models.remove(actor, params.model_id, ip);
        seeOther(ctx, `${base(organization.id)}/models`);
      },
    }),
    route({
      method: 'POST', path: '/console/organizations/:id/models/:model_id/restore', summary: 'Console: restore a deleted model', access: access.session, html: true, params: modelParams, gate: admin, body: { kind: 'form', schema: z.object({}) },
      handler: ({ actor, params, gate: { organization }, ip }, ctx) => {
        assertInOrganization(d, params.model_id, organization.id);
        d.sharing.models.restore(actor, params.model_id, ip);
        seeOther(ctx, `${base(organization.id)}/models?deleted=1`);
      },
    }),
    route({
      method: 'GET', path: '/console/organizations/:id/audit', summary: "Console: the organization's audit log", access: access.session, html: true, params: orgParams, gate: admin, query: auditQuery,
      handler: ({ actor, query, gate: { organization } }, ctx) => {
        const events = d.auditQuery.page({ kind: 'organization', id: organization.id }, filterOf(query), undefined, 200).entries;
        const rows = events.map((e) => html`<tr><td>${date(e.at)}</td><td>${e.action}</td><td>${e.outcome}</td><td>${e.actor_email ?? e.actor_id ?? '—'}</td><td>${e.target_type ? `${e.target_type} ${e.target_id ?? ''}` : '—'}</td><td>${e.reason ?? ''}</td><td>${e.source ?? ''}</td></tr>`);
        const outcome = (value: string, label: string) => html`<option value="${value}"${query.outcome === value ? html` selected` : ''}>${label}</option>`;
        const exportLink = `${base(organization.id)}/audit/export?${new URLSearchParams(query)}`;
        const body = html`${orgNav(organization.id)}
<form method="get" action="${base(organization.id)}/audit" class="filters">
<div><label for="audit-action">Action starts with (say <code>model.delete</code>)</label><input id="audit-action" name="action" value="${query.action}"></div>
<div><label for="audit-outcome">Outcome</label><select id="audit-outcome" name="outcome">${outcome('', 'Any')}${outcome('allowed', 'Allowed')}${outcome('denied', 'Denied')}${outcome('failed', 'Failed')}</select></div>
<div><label for="audit-from">From (day)</label><input id="audit-from" name="from" type="date" value="${query.from}"></div>
<div><label for="audit-to">To (day)</label><input id="audit-to" name="to" type="date" value="${query.to}"></div>
<button type="submit">Filter</button></form>
<p><a href="${exportLink}" download>Export these events (CSV)</a></p>
<p>${events.length} event${events.length === 1 ? '' : 's'} shown, newest first (at most 200; export for more).</p>
<table><thead><tr><th scope="col">When (UTC)</th><th scope="col">Action</th><th scope="col">Outcome</th><th scope="col">Who</th><th scope="col">Target</th><th scope="col">Reason</th><th scope="col">From</th></tr></thead><tbody>${rows}</tbody></table>`;
        sendConsolePage(d, ctx, actor, `${organization.name}: audit log`, body);
      },
    }),
    route({
      method: 'GET', path: '/console/organizations/:id/audit/export', summary: "Console: export the organization's audit log (CSV)", access: access.session, params: orgParams, gate: admin, query: auditQuery,
      handler: ({ actor, query, gate: { organization }, ip }, ctx) => {
        // The admin API's export: streamed from its own read-only snapshot, with bounded memory.
        const filter = filterOf(query);
        d.orgs.record(actor.person, { action: 'audit.export', outcome: 'allowed', target: { type: 'organization', id: organization.id }, source: ip, details: { format: 'csv', filter } });
        ctx.set('Content-Disposition', `attachment; filename="audit-${organization.id}.csv"`);
        ctx.set('Cache-Control', 'no-store');
        ctx.type = 'text/csv; charset=utf-8; header=present';
        ctx.body = auditExport(d.db, d.auditQuery, { kind: 'organization', id: organization.id }, filter, 'csv');
      },
    }),
  ];
}
