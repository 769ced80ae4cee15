/**
 * Model administration routes (issue 22): lock and unlock. Who may call is on each line: a token with
 * the write scope, and the model gate with the lock policy (owner, model admin, organization admin).
 */
import { z } from 'zod';
import { access, route, type AnyRoute } from '../http/route-table.ts';
import { modelGate } from './gates.ts';
import { mayLock, presentLock, type LocksService } from './locks.ts';
import type { ModelsService } from './models-service.ts';
import type { BlobService } from '../blobs/blob-service.ts';
import { policy } from './policy.ts';
import { presentPacket } from './present.ts';
import type { Branch, RollbackService } from './rollback.ts';
import type { ModelMembersCsv } from './members-csv.ts';
import { importBody } from '../orgs/csv-routes.ts';
import { cursor, cursorSeq, modelParams, pageQuery } from './schema.ts';

export const lockBody = z
  .object({
    reason: z.string().trim().min(1).max(2000),
    /** The one member who may still write out and upload baselines; none when absent or null. */
    lock_owner_id: z.string().min(1).max(100).nullish(),
  })
  .strict();

export const rollbackBody = z.object({ to: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER) }).strict();
const branchParams = z.object({ id: z.string(), branch: z.string().max(100) });

function presentBranch(b: Branch) {
  return {
    id: b.id, rolled_back_to: b.rolledBackTo, tip: b.tip, marker: b.marker, created_by: b.createdBy, created_at: b.createdAt,
    restored_at: b.restoredAt, restored_by: b.restoredBy,
  };
}

export function modelAdminRoutes(d: { models: ModelsService; locks: LocksService; rollbacks: RollbackService; blobs: BlobService; membersCsv: ModelMembersCsv }): AnyRoute[] {
  const read = access.token('read');
  const write = access.token('write');
  const lockGate = (action: string) => modelGate(d.models, action, mayLock, { viewerRefused: true });
  return [
    route({
      method: 'PUT', path: '/api/v1/models/:id/lock', summary: 'Lock a model with a reason, naming at most one lock owner who may still write', access: write, params: modelParams, gate: lockGate('model.lock'), body: { kind: 'json', schema: lockBody },
      handler: ({ actor, params, body, ip }) => presentLock(d.locks.lock(actor, params.id, { reason: body.reason, lockOwnerId: body.lock_owner_id ?? null }, ip)),
    }),
    route({
      method: 'DELETE', path: '/api/v1/models/:id/lock', summary: 'Unlock a model', access: write, params: modelParams, gate: lockGate('model.unlock'),
      handler: ({ actor, params, ip }) => void d.locks.unlock(actor, params.id, ip),
    }),
    route({
      method: 'POST', path: '/api/v1/models/:id/rollback', summary: 'Return the model to an earlier point; the later packets are kept as a closed branch', access: write, params: modelParams, status: 201,
      gate: modelGate(d.models, 'model.rollback', policy.own, { viewerRefused: true }), body: { kind: 'json', schema: rollbackBody },
      handler: async ({ actor, params, body, ip }) => {
        const done = await d.rollbacks.rollBack(actor, params.id, body.to, ip);
        return { branch: presentBranch(done.branch), head: done.head, baseline: { seq: done.baseline } };
      },
    }),
    route({
      method: 'GET', path: '/api/v1/models/:id/branches', summary: 'The closed branches rollbacks left, newest first', access: read, params: modelParams, gate: modelGate(d.models, 'model.branches', policy.read, { viewerRefused: false }),
      handler: ({ actor, params, ip }) => ({ branches: d.rollbacks.list(actor, params.id, ip).map(presentBranch) }),
    }),
    route({
      method: 'GET', path: '/api/v1/models/:id/branches/:branch/packets', summary: "A closed branch's packets (their bytes at /packets/:seq)", access: read, params: branchParams, query: pageQuery,
      gate: modelGate(d.models, 'model.branches', policy.read, { viewerRefused: false }),
      handler: ({ actor, params, query, ip }) => {
        const after = query.next === undefined ? 0 : cursorSeq(query.next);
        const { packets, more } = d.rollbacks.packets(actor, params.id, params.branch, after, query.limit, ip);
        return { packets: packets.map((p) => presentPacket(p, p.blobId ? d.blobs.info(p.blobId) : undefined)), next: more ? cursor(packets.at(-1)!.seq) : null };
      },
    }),
    route({
      method: 'POST', path: '/api/v1/models/:id/branches/:branch/restore', summary: "Return the model to a closed branch's tip", access: write, params: branchParams, status: 201,
      gate: modelGate(d.models, 'model.branch_restore', policy.own, { viewerRefused: true }),
      handler: async ({ actor, params, ip }) => {
        const done = await d.rollbacks.restore(actor, params.id, params.branch, ip);
        return { branch: presentBranch(done.branch), head: done.head, baseline: { seq: done.baseline } };
      },
    }),
    route({
      method: 'GET', path: '/api/v1/models/:id/members/export', summary: "The model's members as CSV (name, email, role)", access: read, params: modelParams, gate: modelGate(d.models, 'model.members_export', policy.manage, { viewerRefused: true }),
      handler: ({ actor, params, ip }, ctx) => {
        const text = d.membersCsv.export(actor, params.id, ip);
        ctx.type = 'text/csv; charset=utf-8';
        ctx.set('Content-Disposition', 'attachment; filename="model-members.csv"');
        ctx.set('Cache-Control', 'no-store');
        ctx.body = text;
      },
    }),
    route({
      method: 'POST', path: '/api/v1/models/:id/members/import', summary: 'Invite people and change roles from a CSV (email, role; dry run by default)', access: write, params: modelParams, body: { kind: 'json', schema: importBody },
      gate: modelGate(d.models, 'model.members_import', policy.manage, { viewerRefused: true }),
      handler: ({ actor, params, body, ip }) => d.membersCsv.import(actor, params.id, body.csv, body.dry_run, ip),
    }),
  ];
}
