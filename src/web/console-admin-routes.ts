/**
 * The console pages of server admins, behind the same `server_admin` gate as the admin API:
 * organizations and their seats, people, scheduled jobs and backups (last results, run now after a
 * confirmation), and the certificate being served.
 */
import { z } from 'zod';
import { AppError } from '../errors.ts';
import { access, route, type AnyRoute } from '../http/route-table.ts';
import type { Jobs } from '../jobs/setup.ts';
import type { Log } from '../log.ts';
import { serverAdminGate } from '../orgs/gates.ts';
import type { TlsService } from '../tls/service.ts';
import { version } from '../version.ts';
import { cursorParam, encodeCursor } from '../admin/cursor.ts';
import { peopleSortKey } from '../identity/people-list.ts';
import { sendConsolePage, seeOther, type ConsoleDeps } from './console-context.ts';
import { html } from './html.ts';
import { confirmBody } from './layout.ts';

export interface AdminConsoleDeps {
  jobs: Jobs | undefined;
  tls: TlsService | undefined;
  log: Log;
}

const date = (iso: string | null | undefined) => (iso ? iso.slice(0, 16).replace('T', ' ') : '—');
const jobParams = z.object({ name: z.string() });
/** Where the page starts (the admin API's keyset cursor, oldest first), and its number, for the reader. */
const pageQuery = z.object({ next: cursorParam.optional(), page: z.string().regex(/^[1-9]\d{0,5}$/, 'must be a page number').default('1').transform(Number) });
const perPage = 100;

export function consoleAdminRoutes(d: ConsoleDeps, a: AdminConsoleDeps): AnyRoute[] {
  const gate = serverAdminGate(d.orgs);
  const jobOf = (name: string) => {
    const job = a.jobs?.find(name);
    if (!job) throw new AppError('not_found', 'There is no such job');
    return job;
  };
  return [
    route({
      method: 'GET', path: '/console/admin', summary: 'Console: the server (organizations, seats, certificate, jobs)', access: access.session, html: true, gate,
      handler: ({ actor }, ctx) => {
        const orgs = d.orgs.admin.list();
        const tls = a.tls?.status();
        const jobs = a.jobs?.list ?? [];
        const body = html`<p>Modelshare ${version}.</p>
<nav aria-label="Server"><ul class="pager"><li><a href="/console/admin/people">People</a></li><li><a href="/console/admin/notices">Notices</a></li></ul></nav>
<h2>Organizations and seats</h2>
<table><thead><tr><th scope="col">Organization</th><th scope="col">Domains</th><th scope="col">Seats used</th><th scope="col">Sharing</th></tr></thead><tbody>
${orgs.map(({ org, seatsUsed }) => html`<tr><td><a href="/console/organizations/${encodeURIComponent(org.id)}">${org.name}</a></td><td>${org.domains.join(', ')}</td><td>${seatsUsed} of ${org.seats}</td><td>${org.sharingEnabled ? 'on' : 'off'}</td></tr>`)}</tbody></table>
<h2>Certificate</h2>
${tls ? html`<dl><dt>Mode</dt><dd>${tls.mode}</dd><dt>Names</dt><dd>${tls.names.join(', ')}</dd><dt>Valid until</dt><dd>${date(tls.not_after)} (${tls.days_left} days${tls.warning ? html`, <strong>${tls.warning}</strong>` : ''})</dd>
<dt>Renewed</dt><dd>${tls.renew_at ? `automatically at ${date(tls.renew_at)}` : 'by you: replace the certificate files before it expires'}</dd>
<dt>CA fingerprint (SHA-256)</dt><dd><code>${tls.ca_fingerprint ?? '—'}</code></dd></dl>` : html`<p>This server does not terminate TLS (tls.mode off): the reverse proxy holds the certificate.</p>`}
<h2>Jobs and backups</h2>
${a.jobs ? html`<table><thead><tr><th scope="col">Job</th><th scope="col">Schedule</th><th scope="col">Last run</th><th scope="col">Outcome</th><th scope="col">Result</th><th scope="col">Action</th></tr></thead><tbody>
${jobs.map((job) => {
  const last = a.jobs!.runner.lastRuns(job.name, 1)[0];
  return html`<tr><td>${job.name}</td><td><code>${job.schedule}</code></td><td>${date(last?.startedAt)}</td><td>${last?.outcome ?? 'never run'}</td><td>${last?.error ?? last?.summary ?? ''}</td><td><a href="/console/admin/jobs/${encodeURIComponent(job.name)}/run">Run ${job.name} now</a></td></tr>`;
})}</tbody></table>` : html`<p>Jobs are not available in this process.</p>`}`;
        sendConsolePage(d, ctx, actor, 'Server', body);
      },
    }),
    route({
      method: 'GET', path: '/console/admin/people', summary: 'Console: everyone known to the server', access: access.session, html: true, gate, query: pageQuery,
      handler: ({ actor, query }, ctx) => {
        // The admin API's list (identity/people-list.ts), oldest first by keyset.
        const after = query.next?.sort === 'created:asc' ? query.next : undefined;
        const { people, more } = d.peopleList.page({ search: undefined, serverAdmin: undefined, blocked: undefined, sort: 'created', order: 'asc', after, limit: perPage });
        const page = after ? query.page : 1;
        const last = people.at(-1);
        const next = more && last ? `/console/admin/people?${new URLSearchParams({ next: encodeCursor({ sort: 'created:asc', key: peopleSortKey('created', last), id: last.id }), page: String(page + 1) })}` : undefined;
        const body = html`<p>Everyone known to the server, oldest first; page ${page}.</p>
<table><thead><tr><th scope="col">Name</th><th scope="col">Address</th><th scope="col">Organizations</th><th scope="col">Server admin</th><th scope="col">Last sign-in</th></tr></thead><tbody>
${people.map((p) => html`<tr><td>${d.identity.publicPerson(p.id).display_name}</td><td>${p.email ?? '(erased)'}</td><td>${d.orgs.repo.membershipsOf(p.id).map((m) => `${d.orgs.repo.get(m.organizationId)?.name ?? m.organizationId} (${m.role})`).join(', ')}</td><td>${p.serverAdmin ? 'yes' : ''}</td><td>${date(p.lastSignInAt)}</td></tr>`)}</tbody></table>
<nav aria-label="Pages" class="pager">${page > 1 ? html`<a href="/console/admin/people">First page</a>` : ''}${next ? html`<a href="${next}" rel="next">Next page</a>` : ''}</nav>`;
        sendConsolePage(d, ctx, actor, 'People', body);
      },
    }),
    route({
      method: 'GET', path: '/console/admin/jobs/:name/run', summary: 'Console: confirm running a job now', access: access.session, html: true, params: jobParams, gate,
      handler: ({ actor, params }, ctx) => {
        const job = jobOf(params.name);
        const what = html`Run the job <strong>${job.name}</strong> now, outside its schedule (<code>${job.schedule}</code>), exactly as the schedule would: it does all its work, including any removal that job makes (retention and purges delete what is past its keep time). It waits if a job sharing its lease is running. The result appears on the server page.`;
        sendConsolePage(d, ctx, actor, `Run ${job.name} now?`, confirmBody(what, `/console/admin/jobs/${encodeURIComponent(job.name)}/run`, `Run ${job.name}`, actor.csrfToken!, '/console/admin'));
      },
    }),
    route({
      method: 'POST', path: '/console/admin/jobs/:name/run', summary: 'Console: run a job now', access: access.session, html: true, params: jobParams, gate, body: { kind: 'form', schema: z.object({}) },
      handler: ({ actor, params, ip }, ctx) => {
        const job = jobOf(params.name);
        d.audit.record({ action: 'job.run', outcome: 'allowed', actor: { id: actor.person.id, email: actor.person.email ?? undefined }, target: { type: 'job', id: job.name }, source: ip });
        // The page does not wait for the job: its run record shows it running, then its result.
        a.jobs!.runner.run(job, 'command').catch((error: unknown) => a.log.error({ err: error, job: job.name }, 'job run from the console failed'));
        seeOther(ctx, '/console/admin');
      },
    }),
  ];
}
