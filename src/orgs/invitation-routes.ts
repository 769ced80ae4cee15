/**
 * A person's own invitations, of every kind: `GET /api/v1/invitations` and accept/decline, plus the
 * same answers as form posts from the home page (which lists them at sign-in).
 */
import Router from '@koa/router';
import { actorOf, assertCsrf, requireScope } from '../http/authenticate.ts';
import { readParams } from '../http/body.ts';
import type { AppState } from '../http/state.ts';
import { parseInput } from '../http/input.ts';
import { html, type SafeHtml } from '../web/html.ts';
import type { Person } from '../identity/people.ts';
import { page } from './schema.ts';
import type { OrganizationsService } from './service.ts';

export function invitationsRouter(orgs: OrganizationsService, options: { bodyLimit: number }) {
  const router = new Router<AppState>();

  router.get('/api/v1/invitations', requireScope('read'), (ctx) => {
    const { limit, next } = parseInput(page, ctx.query);
    const all = orgs.invitations.pendingFor(actorOf(ctx).person);
    const from = next ?? 0;
    ctx.body = { invitations: all.slice(from, from + limit), next: from + limit < all.length ? String(from + limit) : null };
  });

  for (const [verb, accept] of [['accept', true], ['decline', false]] as const) {
    router.post(`/api/v1/invitations/:id/${verb}`, requireScope('write'), (ctx) => {
      ctx.body = orgs.invitations.answer(actorOf(ctx), ctx.params['id']!, accept, ctx.ip);
    });
    router.post(`/invitations/:id/${verb}`, async (ctx) => {
      const actor = actorOf(ctx);
      assertCsrf(actor, (await readParams(ctx, options.bodyLimit))['_csrf']);
      orgs.invitations.answer(actor, ctx.params['id']!, accept, ctx.ip);
      ctx.status = 303;
      ctx.redirect('/');
    });
  }

  return router;
}

/** The home page's list of pending invitations, each with its accept and decline buttons. */
export function invitationsNotice(orgs: OrganizationsService, person: Person, csrfToken: string): SafeHtml {
  const pending = orgs.invitations.pendingFor(person);
  if (pending.length === 0) return html``;
  const form = (id: string, verb: string, label: string) =>
    html`<form method="post" action="/invitations/${encodeURIComponent(id)}/${verb}"><input type="hidden" name="_csrf" value="${csrfToken}"><button type="submit">${label}</button></form>`;
  const items = pending.map((inv) => {
    const what = (inv['organization'] ?? inv['model']) as { name?: string } | undefined;
    return html`<li>${inv.invited_by.display_name} invites you to ${what?.name ?? inv.kind} as ${inv.role} (until ${inv.expires_at.slice(0, 10)}). ${form(inv.id, 'accept', 'Accept')}${form(inv.id, 'decline', 'Decline')}</li>`;
  });
  return html`<h2>Invitations</h2><ul>${items}</ul>`;
}
