/**
 * User lists in CSV in the console (issue 22): an organization's members and partners, and a model's
 * members. Export downloads the file; import uploads one (multipart) and first shows the dry run:
 * every change and every refused row with its reason. Applying re-plans the same file and goes ahead
 * only if the plan is still the one shown (its digest travels with the form), so nothing happens
 * that the admin did not see. The services plan, apply and audit row by row, as the API's do.
 */
import crypto from 'node:crypto';
import { z } from 'zod';
import { access, route, type AnyRoute, type RouteContext } from '../http/route-table.ts';
import type { Actor } from '../http/authenticate.ts';
import { organizationGates } from '../orgs/gates.ts';
import { OrganizationCsv, type PlannedRow } from '../orgs/csv.ts';
import { modelGate } from '../sharing/gates.ts';
import { policy } from '../sharing/policy.ts';
import { sendConsolePage, type ConsoleDeps } from './console-context.ts';
import { modelPath } from './console-model-routes.ts';
import { html, type SafeHtml } from './html.ts';
import { csrfField } from './layout.ts';
import { orgNav } from './org-nav.ts';

const orgParams = z.object({ id: z.string() });
const importForm = z.object({
  /** The uploaded file (first step), or the same text carried back by the apply form. */
  file: z.string().max(900_000).default(''),
  csv: z.string().max(900_000).default(''),
  apply: z.enum(['0', '1']).default('0'),
  plan: z.string().regex(/^([0-9a-f]{64})?$/).default(''),
});
type ImportForm = z.infer<typeof importForm>;
type Outcome = { dry_run: boolean; rows: PlannedRow[]; summary: Record<string, number> };

const shown = (v: unknown) => (v === true ? 'yes' : v === false ? 'no' : v === null || v === undefined ? '—' : String(v));
/** What the admin saw: the rows' actions, changes and refusals. */
const digestOf = (rows: PlannedRow[]) => crypto.createHash('sha256').update(JSON.stringify(rows.map((r) => [r.line, r.email, r.action, r.changes, r.status, r.refused?.code ?? null]))).digest('hex');

function planTable(outcome: Outcome): SafeHtml {
  const rows = outcome.rows.map((r) => html`<tr class="${r.status}"><td>${r.line}</td><td>${r.email}</td><td>${r.action}</td>
<td>${r.changes.length ? html`<ul>${r.changes.map((c) => html`<li>${c.field}: ${shown(c.from)} → ${shown(c.to)}</li>`)}</ul>` : '—'}</td>
<td>${r.status}</td><td>${r.refused ? `${r.refused.code}: ${r.refused.reason}` : ''}</td></tr>`);
  const s = outcome.summary;
  return html`<p id="import-summary">${s['rows']} row(s): ${outcome.dry_run ? `${s['planned']} to change` : `${s['applied']} changed`}, ${s['unchanged']} unchanged, ${s['refused']} refused.</p>
<table id="import-plan"><thead><tr><th scope="col">Line</th><th scope="col">Address</th><th scope="col">Action</th><th scope="col">Changes</th><th scope="col">Status</th><th scope="col">Why refused</th></tr></thead><tbody>${rows}</tbody></table>`;
}

/** The upload form: a CSV file, planned first. */
export function uploadForm(action: string, csrf: string, columns: string): SafeHtml {
  return html`<form method="post" action="${action}" enctype="multipart/form-data" class="stack">${csrfField(csrf)}
<div><label for="csv-file">CSV file (UTF-8, header row: ${columns})</label><input id="csv-file" name="file" type="file" accept=".csv,text/csv" required></div>
<button type="submit">Dry run: show what would change</button></form>`;
}

/**
 * Runs one step of an import: the dry run, or applying a plan the admin has seen. Sends the page.
 * `plan(dryRun)` is the service's import of the text.
 */
function importStep(d: ConsoleDeps, ctx: RouteContext, actor: Actor, title: string, action: string, back: SafeHtml, body: ImportForm, plan: (csv: string, dryRun: boolean) => Outcome): void {
  const csv = body.csv || body.file;
  if (!csv.trim()) return sendConsolePage(d, ctx, actor, title, html`${back}<p class="warning">Choose a CSV file to import.</p>`, 400);
  const dry = plan(csv, true);
  const digest = digestOf(dry.rows);
  if (body.apply === '1' && body.plan === digest) {
    const done = plan(csv, false);
    return sendConsolePage(d, ctx, actor, title, html`${back}<div class="notice"><p>The import is done.</p></div>${planTable(done)}`);
  }
  const changed = body.apply === '1' ? html`<div class="warning"><p>Something changed since your dry run, so nothing was applied. This is the plan now; check it again.</p></div>` : '';
  const applyForm = dry.summary['planned']! > 0
    ? html`<form method="post" action="${action}" enctype="multipart/form-data">${csrfField(actor.csrfToken!)}<input type="hidden" name="csv" value="${csv}"><input type="hidden" name="plan" value="${digest}"><input type="hidden" name="apply" value="1">
<button type="submit">Apply ${dry.summary['planned']} change(s)</button> <a href="${action.replace(/\/import$/, '/csv')}">Cancel</a></form>`
    : html`<p>Nothing to apply.</p>`;
  sendConsolePage(d, ctx, actor, title, html`${back}${changed}<p>Dry run: nothing has changed yet.</p>${planTable(dry)}${applyForm}`);
}

function sendCsv(ctx: RouteContext, filename: string, text: string): void {
  ctx.type = 'text/csv; charset=utf-8';
  ctx.set('Content-Disposition', `attachment; filename="${filename}"`);
  ctx.set('Cache-Control', 'no-store');
  ctx.body = text;
}

export function consoleCsvRoutes(d: ConsoleDeps): AnyRoute[] {
  const { admin } = organizationGates(d.orgs);
  const orgCsv = new OrganizationCsv(d.orgs);
  const orgBase = (id: string) => `/console/organizations/${encodeURIComponent(id)}`;
  const manageGate = (action: string) => modelGate(d.sharing.models, action, policy.manage, { viewerRefused: true });
  const modelParams = z.object({ id: z.string() });

  return [
    route({
      method: 'GET', path: '/console/organizations/:id/members/csv', summary: 'Console: members and partners in CSV (export, import)', access: access.session, html: true, params: orgParams, gate: admin,
      handler: ({ actor, gate: { organization } }, ctx) => {
        const base = orgBase(organization.id);
        const body = html`${orgNav(organization.id)}
<h2>Export</h2><p><a href="${base}/members/export" download>Download the members and partners (CSV)</a>: name, email, role, seat, sharing.</p>
<h2>Import</h2><p>Upload the same shape, edited: rows change roles (admin, member, partner) and switch sharing (yes, no); new addresses are invited as partners. Empty cells leave things as they are. You see the plan first.</p>
${uploadForm(`${base}/members/import`, actor.csrfToken!, 'email, role, sharing')}`;
        sendConsolePage(d, ctx, actor, `${organization.name}: members in CSV`, body);
      },
    }),
    route({
      method: 'GET', path: '/console/organizations/:id/members/export', summary: 'Console: download the members and partners (CSV)', access: access.session, params: orgParams, gate: admin,
      handler: ({ actor, gate: { organization }, ip }, ctx) => {
        d.orgs.record(actor.person, { action: 'org.export', outcome: 'allowed', target: { type: 'organization', id: organization.id }, source: ip });
        sendCsv(ctx, 'members.csv', orgCsv.export(organization));
      },
    }),
    route({
      method: 'POST', path: '/console/organizations/:id/members/import', summary: 'Console: import members and partners from CSV (dry run, then apply)', access: access.session, html: true, params: orgParams, gate: admin, body: { kind: 'form', schema: importForm },
      handler: ({ actor, body, gate: { organization }, ip }, ctx) => {
        const back = html`${orgNav(organization.id)}<p><a href="${orgBase(organization.id)}/members/csv">Back to the CSV page</a></p>`;
        importStep(d, ctx, actor, `${organization.name}: import`, `${orgBase(organization.id)}/members/import`, back, body, (csv, dryRun) => orgCsv.import(actor, organization, csv, dryRun, ip));
      },
    }),
    route({
      method: 'GET', path: '/console/models/:id/members/csv', summary: "Console: a model's members in CSV (export, import)", access: access.session, html: true, params: modelParams, gate: manageGate('model.members_import'),
      handler: ({ actor, gate: { model } }, ctx) => {
        const body = html`<p><a href="${modelPath(model.id)}">Back to ${model.name}</a></p>
<h2>Export</h2><p><a href="${modelPath(model.id)}/members/export" download>Download the members of ${model.name} (CSV)</a>: name, email, role.</p>
<h2>Import</h2><p>Rows change members' roles (admin, editor, viewer) and invite new addresses with theirs; never above your own role, and never to or from owner. You see the plan first.</p>
${uploadForm(`${modelPath(model.id)}/members/import`, actor.csrfToken!, 'email, role')}`;
        sendConsolePage(d, ctx, actor, `${model.name}: members in CSV`, body);
      },
    }),
    route({
      method: 'GET', path: '/console/models/:id/members/export', summary: "Console: download a model's members (CSV)", access: access.session, params: modelParams, gate: manageGate('model.members_export'),
      handler: ({ actor, params, ip }, ctx) => sendCsv(ctx, 'model-members.csv', d.sharing.membersCsv.export(actor, params.id, ip)),
    }),
    route({
      method: 'POST', path: '/console/models/:id/members/import', summary: "Console: import a model's members from CSV (dry run, then apply)", access: access.session, html: true, params: modelParams, gate: manageGate('model.members_import'), body: { kind: 'form', schema: importForm },
      handler: ({ actor, params, body, ip, gate: { model } }, ctx) => {
        const back = html`<p><a href="${modelPath(model.id)}/members/csv">Back to the CSV page of ${model.name}</a></p>`;
        importStep(d, ctx, actor, `${model.name}: import`, `${modelPath(model.id)}/members/import`, back, body, (csv, dryRun) => d.sharing.membersCsv.import(actor, params.id, csv, dryRun, ip));
      },
    }),
  ];
}
