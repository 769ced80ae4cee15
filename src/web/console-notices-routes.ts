/**
 * The notices in the console (issue 22): what needs an admin's eye, in words, each with what to do
 * about it: people who left (with the models they own), people who have not signed in for long,
 * models whose owner is gone (with the owner transfer), locked models, seats nearly used up, and for
 * server admins also failed backups and an expiring certificate. Same gates as the API's notices.
 */
import { z } from 'zod';
import { access, route, type AnyRoute } from '../http/route-table.ts';
import { organizationGates, serverAdminGate } from '../orgs/gates.ts';
import type { Notice } from '../notices/notices.ts';
import { sendConsolePage, type ConsoleDeps } from './console-context.ts';
import { modelPath } from './console-model-routes.ts';
import { html, type SafeHtml } from './html.ts';
import { orgNav } from './org-nav.ts';

type Ref = { id: string; name: string };
type PersonRef = { display_name: string; email: string | null };
const date = (iso: unknown) => (typeof iso === 'string' ? iso.slice(0, 16).replace('T', ' ') : 'never');
const who = (p: PersonRef) => (p.email ? `${p.display_name} (${p.email})` : p.display_name);

/** One notice in words, with links to act on it; `orgName` names the organization (on the server's list). */
export function noticeItem(n: Notice, orgName?: (id: string) => string): SafeHtml {
  const org = n.organization_id ? `/console/organizations/${encodeURIComponent(n.organization_id)}` : '';
  const where = n.organization_id && orgName ? html` <span class="muted">(${orgName(n.organization_id)})</span>` : '';
  const owned = (models: unknown) => {
    const list = models as Ref[];
    return list.length ? html` Models they own: ${list.map((m, i) => html`${i ? ', ' : ''}<a href="${org}/models/${encodeURIComponent(m.id)}/owner">${m.name}</a>`)}.` : ' They own no model.';
  };
  switch (n.kind) {
    case 'person_left':
      return html`<li class="person_left"><strong>Left the organization</strong>${where}: ${who(n as unknown as PersonRef)}, on ${date(n['left_at'])} (the sign-in provider no longer vouches for them).${owned(n['models'])}</li>`;
    case 'person_inactive':
      return html`<li class="person_inactive"><strong>Not signed in for long</strong>${where}: ${who(n as unknown as PersonRef)}, ${n['role']}, last sign-in ${date(n['last_sign_in_at'])}.${owned(n['models'])}</li>`;
    case 'model_owner_gone': {
      const model = n['model'] as Ref;
      return html`<li class="model_owner_gone"><strong>Owner gone</strong>${where}: ${model.name}, owned by ${who(n['owner'] as PersonRef)}. <a href="${org}/models/${encodeURIComponent(model.id)}/owner">Transfer ${model.name} to a new owner</a></li>`;
    }
    case 'model_locked': {
      const model = n['model'] as Ref;
      return html`<li class="model_locked"><strong>Locked</strong>${where}: <a href="${modelPath(model.id)}">${model.name}</a> since ${date(n['locked_at'])}: ${String(n['reason'])}</li>`;
    }
    case 'seats_nearly_used':
      return html`<li class="seats_nearly_used"><strong>Seats nearly used up</strong>${where}: ${String(n['used'])} of ${String(n['seats'])} sharing seats in use, ${String(n['available'])} left.</li>`;
    case 'backup_failed':
      return html`<li class="backup_failed"><strong>Backup failed</strong>: job ${String(n['job'])} started ${date(n['started_at'])}: ${String(n['error'] ?? 'no error recorded')}. <a href="/console/admin">Jobs</a></li>`;
    case 'certificate_expiring':
      return html`<li class="certificate_expiring"><strong>Certificate</strong>: ${String(n['warning'])} (valid until ${date(n['not_after'])}). <a href="/console/admin">Certificate</a></li>`;
    default:
      return html`<li>${n.kind}</li>`;
  }
}

export function consoleNoticeRoutes(d: ConsoleDeps): AnyRoute[] {
  const { admin } = organizationGates(d.orgs);
  const orgName = (id: string) => d.orgs.repo.get(id)?.name ?? id;
  const list = (notices: Notice[], named?: (id: string) => string) => (notices.length ? html`<ul class="notices" id="notices">${notices.map((n) => noticeItem(n, named))}</ul>` : html`<p id="notices">Nothing needs your attention.</p>`);
  return [
    route({
      method: 'GET', path: '/console/organizations/:id/notices', summary: "Console: what needs the organization's admins' eye", access: access.session, html: true, params: z.object({ id: z.string() }), gate: admin,
      handler: ({ actor, gate: { organization } }, ctx) => {
        sendConsolePage(d, ctx, actor, `${organization.name}: notices`, html`${orgNav(organization.id)}${list(d.notices.forOrganization(organization))}`);
      },
    }),
    route({
      method: 'GET', path: '/console/admin/notices', summary: "Console: what needs a server admin's eye", access: access.session, html: true, gate: serverAdminGate(d.orgs),
      handler: ({ actor }, ctx) => {
        sendConsolePage(d, ctx, actor, 'Server notices', list(d.notices.forServer(), orgName));
      },
    }),
  ];
}
