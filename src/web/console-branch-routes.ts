/**
 * The console pages of a model's closed branches (issue 22): the branches rollbacks left, each
 * branch's packets with a download of each one's bytes, and restoring a branch (the line returns to
 * its tip; the line it leaves becomes a closed branch in turn). Gates as in the API: members read
 * the branches; the owner or an organization admin restores one.
 */
import { z } from 'zod';
import { sendBlob } from '../http/download.ts';
import { access, route, type AnyRoute } from '../http/route-table.ts';
import { AppError } from '../errors.ts';
import { modelGate } from '../sharing/gates.ts';
import { policy } from '../sharing/policy.ts';
import type { Branch } from '../sharing/rollback.ts';
import { sendConsolePage, seeOther, type ConsoleDeps } from './console-context.ts';
import { modelPath } from './console-model-routes.ts';
import { html } from './html.ts';
import { confirmBody } from './layout.ts';

const modelParams = z.object({ id: z.string() });
const branchParams = z.object({ id: z.string(), branch: z.string().max(100) });
const packetParams = z.object({ id: z.string(), branch: z.string().max(100), seq: z.string().regex(/^[1-9]\d{0,14}$/).transform(Number) });
const pageQuery = z.object({ after: z.string().regex(/^\d{1,15}$/).default('0').transform(Number) });
const perPage = 100;
const date = (iso: string | null | undefined) => (iso ? iso.slice(0, 16).replace('T', ' ') : '—');

export function consoleBranchRoutes(d: ConsoleDeps): AnyRoute[] {
  const { models, rollbacks } = d.sharing;
  const readGate = modelGate(models, 'model.branches', policy.read, { viewerRefused: false });
  const restoreGate = modelGate(models, 'model.branch_restore', policy.own, { viewerRefused: true });
  const name = (personId: string | null) => (personId ? d.identity.publicPerson(personId).display_name : '—');
  const branchPath = (modelId: string, id: string) => `${modelPath(modelId)}/branches/${encodeURIComponent(id)}`;
  const describe = (b: Branch) => `Packets ${b.rolledBackTo + 1} to ${b.tip}, left by the rollback to ${b.rolledBackTo}`;

  return [
    route({
      method: 'GET', path: '/console/models/:id/branches', summary: "Console: a model's closed branches", access: access.session, html: true, params: modelParams, gate: readGate,
      handler: ({ actor, params, ip, gate: { model } }, ctx) => {
        const branches = rollbacks.list(actor, params.id, ip);
        const rows = branches.map((b) => html`<tr><td><a href="${branchPath(model.id, b.id)}">${describe(b)}</a></td><td>${name(b.createdBy)}</td><td>${date(b.createdAt)}</td><td>${b.restoredAt ? `restored ${date(b.restoredAt)} by ${name(b.restoredBy)}` : 'closed'}</td></tr>`);
        const body = html`<p><a href="${modelPath(model.id)}">Back to ${model.name}</a></p>
<p>A rollback keeps the packets it took off the model's line as a closed branch: nothing is destroyed.</p>
${branches.length === 0 ? html`<p>This model has no closed branch.</p>` : html`<table><thead><tr><th scope="col">Branch</th><th scope="col">Rolled back by</th><th scope="col">When (UTC)</th><th scope="col">State</th></tr></thead><tbody>${rows}</tbody></table>`}`;
        sendConsolePage(d, ctx, actor, `${model.name}: closed branches`, body);
      },
    }),
    route({
      method: 'GET', path: '/console/models/:id/branches/:branch', summary: "Console: a closed branch's packets", access: access.session, html: true, params: branchParams, gate: readGate, query: pageQuery,
      handler: ({ actor, params, query, ip, gate: { model, standing } }, ctx) => {
        const branch = rollbacks.list(actor, params.id, ip).find((b) => b.id === params.branch);
        if (!branch) throw new AppError('not_found', 'There is no such branch');
        const { packets, more } = rollbacks.packets(actor, params.id, params.branch, query.after, perPage, ip);
        const rows = packets.map((p) => {
          const size = p.blobId ? d.sharing.routeDeps.blobs.info(p.blobId)?.size : undefined;
          return html`<tr><td>${p.seq}</td><td>${name(p.authorId)}</td><td>${date(p.createdAt)}</td><td>${p.comment ?? ''}</td><td>${size ?? '—'}</td>
<td>${p.blobId ? html`<a href="${branchPath(model.id, branch.id)}/packets/${p.seq}" download="packet-${p.seq}.bin">Download packet ${p.seq}</a>` : 'removed by retention'}</td></tr>`;
        });
        const body = html`<p><a href="${modelPath(model.id)}/branches">Back to the closed branches</a></p>
<p>${describe(branch)}, on ${date(branch.createdAt)} by ${name(branch.createdBy)}. It is built on the baseline as of ${branch.baseSeq}.${branch.restoredAt ? ` Restored ${date(branch.restoredAt)} by ${name(branch.restoredBy)}.` : ''}</p>
${policy.own(standing) && !branch.restoredAt ? html`<p><a href="${branchPath(model.id, branch.id)}/restore">Restore this branch</a></p>` : ''}
<table><thead><tr><th scope="col">Packet</th><th scope="col">Author</th><th scope="col">When (UTC)</th><th scope="col">Comment</th><th scope="col">Bytes</th><th scope="col">Download</th></tr></thead><tbody>${rows}</tbody></table>
${more ? html`<p><a href="${branchPath(model.id, branch.id)}?after=${packets.at(-1)!.seq}">Next packets</a></p>` : ''}`;
        sendConsolePage(d, ctx, actor, `${model.name}: closed branch`, body);
      },
    }),
    route({
      method: 'GET', path: '/console/models/:id/branches/:branch/packets/:seq', summary: "Console: download a closed branch's packet", access: access.session, params: packetParams, gate: readGate, produces: 'blob',
      handler: async ({ actor, params, ip }, ctx) => {
        const { packet, blob } = d.sharing.history.packetContent(actor, params.id, params.seq, ip);
        if (packet.branchId !== params.branch) throw new AppError('not_found', `Packet ${params.seq} is not on this branch`);
        ctx.set('Content-Disposition', `attachment; filename="packet-${packet.seq}.bin"`);
        await sendBlob(ctx, d.sharing.routeDeps.blobs, blob, { 'Modelshare-Seq': String(packet.seq) }, { model_id: params.id, packet_seq: packet.seq });
      },
    }),
    route({
      method: 'GET', path: '/console/models/:id/branches/:branch/restore', summary: 'Console: confirm restoring a closed branch', access: access.session, html: true, params: branchParams, gate: restoreGate,
      handler: ({ actor, params, gate: { model } }, ctx) => {
        // The owner or an organization admin (who may not read the branch's packets) restores from the model's page.
        const branch = rollbacks.branches.get(model.id, params.branch);
        if (!branch) throw new AppError('not_found', 'There is no such branch');
        const what = html`Return <strong>${model.name}</strong> to packet ${branch.tip} of this branch. The model is now at ${model.head}; the packets of the current line that are not on this branch become a closed branch in turn, which can be restored too. Desktop clients are told and join again.`;
        sendConsolePage(d, ctx, actor, 'Restore the branch?', confirmBody(what, `${branchPath(model.id, branch.id)}/restore`, 'Restore branch', actor.csrfToken!, modelPath(model.id)));
      },
    }),
    route({
      method: 'POST', path: '/console/models/:id/branches/:branch/restore', summary: 'Console: restore a closed branch', access: access.session, html: true, params: branchParams, gate: restoreGate, body: { kind: 'form', schema: z.object({}) },
      handler: async ({ actor, params, ip }, ctx) => {
        await rollbacks.restore(actor, params.id, params.branch, ip);
        seeOther(ctx, modelPath(params.id));
      },
    }),
  ];
}
