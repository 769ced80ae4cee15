/**
 * Model administration routes (issue 22): lock and unlock. Who may call is on each line: a token with
 * the write scope, and the model gate with the lock policy (owner, model admin, organization admin).
 */
import { z } from 'zod';
import { access, route, type AnyRoute } from '../http/route-table.ts';
import { modelGate } from './gates.ts';
import { mayLock, presentLock, type LocksService } from './locks.ts';
import type { ModelsService } from './models-service.ts';
import { modelParams } from './schema.ts';

export const lockBody = z
  .object({
    reason: z.string().trim().min(1).max(2000),
    /** The one member who may still write out and upload baselines; none when absent or null. */
    lock_owner_id: z.string().min(1).max(100).nullish(),
  })
  .strict();

export function modelAdminRoutes(d: { models: ModelsService; locks: LocksService }): AnyRoute[] {
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
  ];
}
