/**
 * The console page of one model for those who administer it (issue 22), at `/console/models/:id`:
 * its lock (lock with a reason and a lock owner, unlock), rolling it back to a baseline or a packet,
 * and links to its closed branches and its member list in CSV. The gates are the API's: lock and
 * unlock for the owner, model admins and organization admins; rollback for the owner and
 * organization admins. Every change goes through a confirmation or a form, and the services act.
 */
import { z } from 'zod';
import { access, route, type AnyRoute } from '../http/route-table.ts';
import { modelGate } from '../sharing/gates.ts';
import { mayLock } from '../sharing/locks.ts';
import { atLeast, policy, type Standing } from '../sharing/policy.ts';
import type { Model } from '../sharing/models-repo.ts';
import { sendConsolePage, seeOther, type ConsoleDeps } from './console-context.ts';
import { html, type SafeHtml } from './html.ts';
import { confirmBody, csrfField } from './layout.ts';

const modelParams = z.object({ id: z.string() });
const point = z.string().regex(/^\d{1,15}$/, 'must be a baseline or packet number').transform(Number);
const lockForm = z.object({ reason: z.string().trim().min(1, 'give a reason').max(2000), lock_owner_id: z.string().max(100).default('') });
/** How many of the newest points of the history the page offers to roll back to. */
const recentPoints = 30;
const date = (iso: string | null | undefined) => (iso ? iso.slice(0, 16).replace('T', ' ') : '—');

export const modelPath = (id: string) => `/console/models/${encodeURIComponent(id)}`;

export function consoleModelRoutes(d: ConsoleDeps): AnyRoute[] {
  const { models, locks, rollbacks } = d.sharing;
  const { historyRepo, repo } = d.sharing.routeDeps;
  const name = (personId: string | null) => (personId ? d.identity.publicPerson(personId).display_name : 'nobody');
  const adminGate = modelGate(models, 'model.console', mayLock, { viewerRefused: true });
  const lockGate = (action: string) => modelGate(models, action, mayLock, { viewerRefused: true });
  const rollbackGate = modelGate(models, 'model.rollback', policy.own, { viewerRefused: true });

  /** The points on the model's line the page offers: recent packets (not markers, not pruned) and baselines. */
  const points = (model: Model) => {
    const packets = historyRepo.packetsAfter(model.id, Math.max(0, model.head - recentPoints), recentPoints).filter((p) => p.branchId === null && p.rolledBackTo === null && p.blobId !== null && p.seq < model.head);
    const baselines = historyRepo.baselines(model.id, model.head, 10).filter((b) => b.seq < model.head);
    return [
      ...packets.map((p) => ({ seq: p.seq, kind: 'packet' as const, author: p.authorId, at: p.createdAt, comment: p.comment })),
      ...baselines.map((b) => ({ seq: b.seq, kind: 'baseline' as const, author: b.authorId, at: b.createdAt, comment: null })),
    ].sort((a, b) => b.seq - a.seq || (a.kind === 'baseline' ? -1 : 1));
  };

  const lockSection = (model: Model, csrf: string): SafeHtml => {
    const lock = locks.get(model.id);
    const writers = repo.members(model.id).filter((m) => atLeast(m.role, 'editor'));
    const current = lock?.lockOwnerId ?? '';
    const form = html`<form method="post" action="${modelPath(model.id)}/lock" class="stack">${csrfField(csrf)}
<div><label for="lock-reason">Reason (members see it when their write-out is refused)</label><input id="lock-reason" name="reason" required maxlength="2000" value="${lock?.reason ?? ''}"></div>
<div><label for="lock-owner">Lock owner (may still write out and upload baselines)</label><select id="lock-owner" name="lock_owner_id"><option value=""${current === '' ? html` selected` : ''}>Nobody</option>${writers.map((m) => html`<option value="${m.personId}"${current === m.personId ? html` selected` : ''}>${name(m.personId)} (${m.role})</option>`)}</select></div>
<button type="submit">${lock ? 'Change the lock' : 'Lock the model'}</button></form>`;
    if (!lock) return html`<h2>Lock</h2><p id="lock-state">The model is not locked: members with write rights may write out.</p>${form}`;
    return html`<h2>Lock</h2><div class="warning" id="lock-state"><p>Locked since ${date(lock.lockedAt)} by ${name(lock.lockedBy)}: <strong>${lock.reason}</strong>.</p>
<p>Lock owner: ${name(lock.lockOwnerId)}. Everyone else's write-outs and new baselines are refused; reading in goes on.</p></div>
<p><a href="${modelPath(model.id)}/unlock">Unlock ${model.name}</a></p>${form}`;
  };

  const rollbackSection = (model: Model, standing: Standing): SafeHtml => {
    if (!policy.own(standing)) return html`<h2>Roll back</h2><p>Only the model's owner or an organization admin may roll it back.</p>`;
    const rows = points(model).map((p) => html`<tr><td>${p.kind === 'baseline' ? `Baseline as of ${p.seq}` : `Packet ${p.seq}`}</td><td>${name(p.author)}</td><td>${date(p.at)}</td><td>${p.comment ?? ''}</td>
<td><a href="${modelPath(model.id)}/rollback?to=${p.seq}">Roll back to ${p.kind === 'baseline' ? 'baseline' : 'packet'} ${p.seq}</a></td></tr>`);
    return html`<h2>Roll back</h2>
<p>The model is at packet <strong>${model.head}</strong>. Rolling back keeps every later packet: they become a closed branch you can list, download and restore.</p>
${rows.length ? html`<table><caption class="muted">Recent points of the model's history, newest first</caption><thead><tr><th scope="col">Point</th><th scope="col">By</th><th scope="col">When (UTC)</th><th scope="col">Comment</th><th scope="col">Action</th></tr></thead><tbody>${rows}</tbody></table>` : html`<p>There is no earlier point to return to.</p>`}
<form method="get" action="${modelPath(model.id)}/rollback" class="filters"><div><label for="rollback-to">Or any baseline or packet number</label><input id="rollback-to" name="to" inputmode="numeric" pattern="[0-9]+" required></div><button type="submit" class="secondary">Roll back to this point</button></form>`;
  };

  /** The closed branches: what each holds, and for the owner or an organization admin, restoring it. Their packets are for members. */
  const branchSection = (model: Model, standing: Standing): SafeHtml => {
    const branches = rollbacks.branches.list(model.id);
    const rows = branches.map((b) => {
      const what = `Packets ${b.rolledBackTo + 1} to ${b.tip}, left by the rollback to ${b.rolledBackTo}`;
      const path = `${modelPath(model.id)}/branches/${encodeURIComponent(b.id)}`;
      return html`<tr><td>${policy.read(standing) ? html`<a href="${path}">${what}</a>` : what}</td><td>${name(b.createdBy)}</td><td>${date(b.createdAt)}</td>
<td>${b.restoredAt ? `restored ${date(b.restoredAt)} by ${name(b.restoredBy)}` : policy.own(standing) ? html`<a href="${path}/restore">Restore the branch ending at ${b.tip}</a>` : 'closed'}</td></tr>`;
    });
    return html`<h2>Closed branches</h2>${branches.length === 0 ? html`<p>No rollback has left a closed branch.</p>` : html`<table id="branches"><thead><tr><th scope="col">Branch</th><th scope="col">Rolled back by</th><th scope="col">When (UTC)</th><th scope="col">State</th></tr></thead><tbody>${rows}</tbody></table>`}`;
  };

  return [
    route({
      method: 'GET', path: '/console/models/:id', summary: 'Console: administer a model (lock, roll back, branches, members in CSV)', access: access.session, html: true, params: modelParams, gate: adminGate,
      handler: ({ actor, gate: { model, standing } }, ctx) => {
        const body = html`<p>Owned by ${name(model.ownerId)}. ${repo.members(model.id).length} member(s).</p>
${lockSection(model, actor.csrfToken!)}
${rollbackSection(model, standing)}
${branchSection(model, standing)}
${policy.manage(standing) ? html`<h2>Members</h2><p><a href="${modelPath(model.id)}/members/csv">Members of ${model.name} in CSV (export, import)</a></p>` : ''}`;
        sendConsolePage(d, ctx, actor, `Model ${model.name}`, body);
      },
    }),
    route({
      method: 'POST', path: '/console/models/:id/lock', summary: 'Console: lock a model', access: access.session, html: true, params: modelParams, gate: lockGate('model.lock'), body: { kind: 'form', schema: lockForm },
      handler: ({ actor, params, body, ip }, ctx) => {
        locks.lock(actor, params.id, { reason: body.reason, lockOwnerId: body.lock_owner_id === '' ? null : body.lock_owner_id }, ip);
        seeOther(ctx, modelPath(params.id));
      },
    }),
    route({
      method: 'GET', path: '/console/models/:id/unlock', summary: 'Console: confirm unlocking a model', access: access.session, html: true, params: modelParams, gate: lockGate('model.unlock'),
      handler: ({ actor, gate: { model } }, ctx) => {
        const what = html`Unlock the model <strong>${model.name}</strong>. Every member with write rights may write out again at once.`;
        sendConsolePage(d, ctx, actor, 'Unlock the model?', confirmBody(what, `${modelPath(model.id)}/unlock`, 'Unlock model', actor.csrfToken!, modelPath(model.id)));
      },
    }),
    route({
      method: 'POST', path: '/console/models/:id/unlock', summary: 'Console: unlock a model', access: access.session, html: true, params: modelParams, gate: lockGate('model.unlock'), body: { kind: 'form', schema: z.object({}) },
      handler: ({ actor, params, ip }, ctx) => {
        locks.unlock(actor, params.id, ip);
        seeOther(ctx, modelPath(params.id));
      },
    }),
    route({
      method: 'GET', path: '/console/models/:id/rollback', summary: 'Console: confirm rolling a model back', access: access.session, html: true, params: modelParams, gate: rollbackGate, query: z.object({ to: point }),
      handler: ({ actor, query, gate: { model } }, ctx) => {
        if (query.to >= model.head) return sendConsolePage(d, ctx, actor, 'Not an earlier point', html`<p>The model is at ${model.head}; choose an earlier point. <a href="${modelPath(model.id)}">Back to the model</a></p>`, 400);
        const what = html`Roll the model <strong>${model.name}</strong> back from ${model.head} to ${query.to}. Packets after ${query.to} are kept as a closed branch, which can be restored. Desktop clients that read in past ${query.to} are told, and join again.`;
        sendConsolePage(d, ctx, actor, 'Roll back the model?', html`${confirmBody(what, `${modelPath(model.id)}/rollback?to=${query.to}`, 'Roll back', actor.csrfToken!, modelPath(model.id))}`);
      },
    }),
    route({
      method: 'POST', path: '/console/models/:id/rollback', summary: 'Console: roll a model back', access: access.session, html: true, params: modelParams, gate: rollbackGate, query: z.object({ to: point }), body: { kind: 'form', schema: z.object({}) },
      handler: async ({ actor, params, query, ip }, ctx) => {
        await rollbacks.rollBack(actor, params.id, query.to, ip);
        seeOther(ctx, modelPath(params.id));
      },
    }),
  ];
}
