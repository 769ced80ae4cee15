/**
 * The console pages of every signed-in person: their models and roles, pending invitations,
 * personal access tokens, sign-ins (browser sessions and desktop logins), profile and data export.
 * Browser sessions only; every form carries the session's CSRF field.
 */
import { z } from 'zod';
import { parseInput } from '../http/input.ts';
import { access, route, type AnyRoute } from '../http/route-table.ts';
import { profilePatch } from '../identity/schema.ts';
import type { Scope } from '../identity/tokens.ts';
import { invitationsNotice } from '../orgs/invitation-routes.ts';
import { sendConsolePage, seeOther, type ConsoleDeps } from './console-context.ts';
import { html } from './html.ts';
import { confirmBody, csrfField } from './layout.ts';

const day = 86_400_000;
const idParams = z.object({ id: z.string() });
const tokenForm = z.object({
  name: z.string().trim().min(1, 'give the token a name').max(100),
  scope_read: z.literal('on').optional(),
  scope_write: z.literal('on').optional(),
  scope_admin: z.literal('on').optional(),
  expires_in_days: z.string().regex(/^[1-9]\d{0,3}$/, 'must be a whole number of days').transform(Number),
});
const profileFields = ['display_name', 'first_name', 'last_name', 'organization', 'job_title'] as const;
const profileForm = z.object(Object.fromEntries(profileFields.map((f) => [f, z.string().max(200)])) as Record<(typeof profileFields)[number], z.ZodString>);
const date = (iso: string | null | undefined) => (iso ? iso.slice(0, 16).replace('T', ' ') : '—');

export function consoleMeRoutes(d: ConsoleDeps): AnyRoute[] {
  const maxDays = Math.floor(d.tokenMaxLifetimeMs / day);
  return [
    route({
      method: 'GET', path: '/console', summary: 'Console: my models and invitations', access: access.session, html: true, query: z.object({ after: z.string().max(100).optional() }),
      handler: ({ actor, query }, ctx) => {
        const { models, more } = d.sharing.models.list(actor, query.after ?? '', 50);
        const rows = models.map((m) => {
          const locked = d.sharing.locks.get(m.id);
          const administer = m.role === 'owner' || m.role === 'admin'
            ? html` <a href="/console/models/${encodeURIComponent(m.id)}">Administer ${m.name}</a>`
            : d.sharing.rollbacks.branches.list(m.id).length ? html` <a href="/console/models/${encodeURIComponent(m.id)}/branches">Closed branches of ${m.name}</a>` : '';
          return html`<tr><td>${m.name}${administer}</td><td>${m.role}</td><td>${locked ? html`<strong>locked</strong>: ${locked.reason}` : 'open'}</td><td>${date(m.updatedAt)}</td></tr>`;
        });
        const body = html`${invitationsNotice(d.orgs, actor.person, actor.csrfToken!)}
<h2>My models</h2>
${models.length === 0 ? html`<p>You belong to no model yet. Share one from your desktop client, or accept an invitation.</p>` : html`<table><caption class="muted">Models you may work on now, with your role</caption><thead><tr><th scope="col">Model</th><th scope="col">My role</th><th scope="col">Lock</th><th scope="col">Last change</th></tr></thead><tbody>${rows}</tbody></table>`}
<div class="pager">${query.after ? html`<a href="/console">First page</a>` : ''}${more ? html`<a href="/console?after=${encodeURIComponent(models.at(-1)!.id)}">Next page</a>` : ''}</div>`;
        sendConsolePage(d, ctx, actor, 'My models', body);
      },
    }),
    route({
      method: 'GET', path: '/console/tokens', summary: 'Console: my personal access tokens', access: access.session, html: true,
      handler: ({ actor }, ctx) => {
        const tokens = d.identity.tokens.listPersonal(actor.person.id);
        const rows = tokens.map((t) => html`<tr><td>${t.name}</td><td>${t.scopes.join(', ')}</td><td>${date(t.created_at)}</td><td>${date(t.expires_at)}</td><td>${date(t.last_used_at)}</td><td><a href="/console/tokens/${encodeURIComponent(t.id)}/revoke">Revoke ${t.name}</a></td></tr>`);
        const body = html`<p>A personal access token lets a script call the API as you. It is shown once, when you create it.</p>
${tokens.length === 0 ? html`<p>You have no personal access tokens.</p>` : html`<table><thead><tr><th scope="col">Name</th><th scope="col">Scopes</th><th scope="col">Created</th><th scope="col">Expires</th><th scope="col">Last used</th><th scope="col">Action</th></tr></thead><tbody>${rows}</tbody></table>`}
<h2>Create a token</h2>
<form method="post" action="/console/tokens" class="stack">${csrfField(actor.csrfToken!)}
<div><label for="token-name">Name</label><input id="token-name" name="name" required maxlength="100"></div>
<fieldset><legend>Scopes</legend>
<input type="checkbox" id="scope-read" name="scope_read" checked><label for="scope-read">read</label>
<input type="checkbox" id="scope-write" name="scope_write"><label for="scope-write">write</label>
${actor.person.serverAdmin ? html`<input type="checkbox" id="scope-admin" name="scope_admin"><label for="scope-admin">admin</label>` : ''}
</fieldset>
<div><label for="token-days">Expires after (days, at most ${maxDays})</label><input id="token-days" name="expires_in_days" type="number" min="1" max="${maxDays}" value="${Math.min(30, maxDays)}" required></div>
<button type="submit">Create token</button></form>`;
        sendConsolePage(d, ctx, actor, 'Personal access tokens', body);
      },
    }),
    route({
      method: 'POST', path: '/console/tokens', summary: 'Console: create a personal access token', access: access.session, html: true, body: { kind: 'form', schema: tokenForm },
      handler: ({ actor, body, ip }, ctx) => {
        const scopes = (['read', 'write', 'admin'] as Scope[]).filter((s) => body[`scope_${s}`] === 'on');
        if (scopes.length === 0 || body.expires_in_days > maxDays) {
          return sendConsolePage(d, ctx, actor, 'Token not created', html`<p class="warning">Choose at least one scope and at most ${maxDays} days.</p><p><a href="/console/tokens">Back to your tokens</a></p>`, 400);
        }
        const created = d.identity.createPersonalToken(actor, body.name, scopes, body.expires_in_days * day, ip);
        sendConsolePage(d, ctx, actor, 'Token created', html`<div class="notice"><p>Copy the token <strong>${created.name}</strong> now: it is not shown again.</p>
<p class="secret" id="new-token">${created.token}</p></div><p><a href="/console/tokens">Back to your tokens</a></p>`, 201);
      },
    }),
    route({
      method: 'GET', path: '/console/tokens/:id/revoke', summary: 'Console: confirm revoking a token', access: access.session, html: true, params: idParams,
      handler: ({ actor, params }, ctx) => {
        const token = d.identity.tokens.listPersonal(actor.person.id).find((t) => t.id === params.id);
        if (!token) return sendConsolePage(d, ctx, actor, 'No such token', html`<p>This token does not exist or was already revoked. <a href="/console/tokens">Back to your tokens</a></p>`, 404);
        const what = html`Revoke the token <strong>${token.name}</strong> (scopes ${token.scopes.join(', ')}). Every script that uses it is refused from now on. This cannot be undone.`;
        sendConsolePage(d, ctx, actor, 'Revoke a token?', confirmBody(what, `/console/tokens/${encodeURIComponent(token.id)}/revoke`, 'Revoke token', actor.csrfToken!, '/console/tokens'));
      },
    }),
    route({
      method: 'POST', path: '/console/tokens/:id/revoke', summary: 'Console: revoke a token', access: access.session, html: true, params: idParams, body: { kind: 'form', schema: z.object({}) },
      handler: ({ actor, params, ip }, ctx) => {
        d.identity.revokePersonalToken(actor, params.id, ip);
        seeOther(ctx, '/console/tokens');
      },
    }),
    route({
      method: 'GET', path: '/console/sessions', summary: 'Console: my browser sessions and desktop logins', access: access.session, html: true,
      handler: ({ actor }, ctx) => {
        const sessions = d.identity.sessions.listFor(actor.person.id);
        const logins = d.identity.tokens.listLogins(actor.person.id).filter((l) => !l.revoked_at);
        const body = html`<h2>Browser sessions</h2>
<table><thead><tr><th scope="col">Signed in</th><th scope="col">Through</th><th scope="col">Last seen</th><th scope="col">This browser</th></tr></thead><tbody>
${sessions.map((s) => html`<tr><td>${date(s.created_at)}</td><td>${s.provider}</td><td>${date(s.last_seen_at)}</td><td>${s.id === actor.sessionId ? 'yes' : ''}</td></tr>`)}</tbody></table>
${sessions.length > 1 ? html`<p><a href="/console/sessions/sign-out-elsewhere">Sign out everywhere else</a></p>` : ''}
<h2>Desktop logins</h2>
${logins.length === 0 ? html`<p>No desktop client is signed in as you.</p>` : html`<table><thead><tr><th scope="col">Client</th><th scope="col">Since</th></tr></thead><tbody>${logins.map((l) => html`<tr><td>${l.client_name}</td><td>${date(l.created_at)}</td></tr>`)}</tbody></table>`}`;
        sendConsolePage(d, ctx, actor, 'Sign-ins', body);
      },
    }),
    route({
      method: 'GET', path: '/console/sessions/sign-out-elsewhere', summary: 'Console: confirm signing out other browsers', access: access.session, html: true,
      handler: ({ actor }, ctx) => {
        const others = d.identity.sessions.listFor(actor.person.id).filter((s) => s.id !== actor.sessionId).length;
        const what = html`End ${others} other browser session${others === 1 ? '' : 's'}. Those browsers must sign in again; this browser stays signed in. Desktop logins are not affected.`;
        sendConsolePage(d, ctx, actor, 'Sign out everywhere else?', confirmBody(what, '/console/sessions/sign-out-elsewhere', 'Sign out other browsers', actor.csrfToken!, '/console/sessions'));
      },
    }),
    route({
      method: 'POST', path: '/console/sessions/sign-out-elsewhere', summary: 'Console: sign out other browsers', access: access.session, html: true, body: { kind: 'form', schema: z.object({}) },
      handler: ({ actor, ip }, ctx) => {
        const others = d.identity.sessions.listFor(actor.person.id).filter((s) => s.id !== actor.sessionId);
        for (const s of others) d.identity.sessions.end(s.id);
        d.audit.record({ action: 'session.end_others', outcome: 'allowed', actor: { id: actor.person.id, email: actor.person.email ?? undefined }, target: { type: 'person', id: actor.person.id }, source: ip, details: { ended: others.length } });
        seeOther(ctx, '/console/sessions');
      },
    }),
    route({
      method: 'GET', path: '/console/profile', summary: 'Console: my profile', access: access.session, html: true,
      handler: ({ actor }, ctx) => {
        const fields = d.identity.profiles.get(actor.person.id).fields as Record<string, string | null | undefined>;
        const labels: Record<(typeof profileFields)[number], string> = { display_name: 'Display name', first_name: 'First name', last_name: 'Last name', organization: 'Organization', job_title: 'Job title' };
        const body = html`<p>Signed in as <strong>${actor.person.email ?? 'no address'}</strong> (from your sign-in provider).</p>
<form method="post" action="/console/profile" class="stack">${csrfField(actor.csrfToken!)}
${profileFields.map((f) => html`<div><label for="p-${f}">${labels[f]}</label><input id="p-${f}" name="${f}" maxlength="200" value="${fields[f] ?? ''}"></div>`)}
<button type="submit">Save profile</button></form>
<h2>Your data</h2><p><a href="/console/export" download>Download everything the server keeps about you (JSON)</a></p>`;
        sendConsolePage(d, ctx, actor, 'Profile', body);
      },
    }),
    route({
      method: 'POST', path: '/console/profile', summary: 'Console: change my profile', access: access.session, html: true, body: { kind: 'form', schema: profileForm },
      handler: ({ actor, body, ip }, ctx) => {
        const patch = parseInput(profilePatch, Object.fromEntries(profileFields.map((f) => [f, body[f].trim() === '' ? null : body[f].trim()])));
        d.identity.updateProfile(actor, patch, ip);
        seeOther(ctx, '/console/profile');
      },
    }),
    route({
      method: 'GET', path: '/console/export', summary: 'Console: download my personal data', access: access.session,
      handler: ({ actor, ip }, ctx) => {
        ctx.set('Content-Disposition', 'attachment; filename="modelshare-export.json"');
        return d.privacy.export(actor, ip);
      },
    }),
  ];
}
