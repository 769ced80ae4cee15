/**
 * A person's own invitations, of every kind: `GET /api/v1/invitations` and accept/decline for
 * desktop clients (a token), and the same answers as form posts from the home page (a browser
 * session with its CSRF token, never a token).
 */
import { z } from 'zod';
import { access, route, type AnyRoute } from '../http/route-table.ts';
import { html, type SafeHtml } from '../web/html.ts';
import type { Person } from '../identity/people.ts';
import type { OrganizationsService } from './service.ts';

const invitationParams = z.object({ id: z.string() });
const offsetPage = z.object({
  limit: z.string().regex(/^[1-9]\d{0,2}$/, 'must be from 1 to 200').transform(Number).pipe(z.number().max(200, 'must be from 1 to 200')).optional().transform((v) => v ?? 50),
  next: z.string().regex(/^[0-9]{1,6}$/, 'is not a cursor this server gave').transform(Number).optional(),
});

export function invitationRoutes(orgs: OrganizationsService): AnyRoute[] {
  const routes: AnyRoute[] = [
    route({
      method: 'GET', path: '/api/v1/invitations', summary: "The caller's pending invitations, of every kind", access: access.token('read'), query: offsetPage,
      handler: ({ actor, query }) => {
        const all = orgs.invitations.pendingFor(actor.person);
        const from = query.next ?? 0;
        return { invitations: all.slice(from, from + query.limit), next: from + query.limit < all.length ? String(from + query.limit) : null };
      },
    }),
  ];
  for (const [verb, accept] of [['accept', true], ['decline', false]] as const) {
    routes.push(
      route({
        method: 'POST', path: `/api/v1/invitations/:id/${verb}`, summary: `${accept ? 'Accept' : 'Decline'} an invitation`, access: access.token('write'), params: invitationParams,
        handler: ({ actor, params, ip }) => orgs.invitations.answer(actor, params.id, accept, ip),
      }),
      route({
        method: 'POST', path: `/invitations/:id/${verb}`, summary: `${accept ? 'Accept' : 'Decline'} an invitation from the home page`, access: access.session, params: invitationParams, body: { kind: 'form', schema: z.object({}) }, html: true,
        handler: ({ actor, params, ip }, ctx) => {
          orgs.invitations.answer(actor, params.id, accept, ip);
          ctx.status = 303;
          ctx.redirect('/');
        },
      }),
    );
  }
  return routes;
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
