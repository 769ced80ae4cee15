/**
 * The resource gates of the sharing routes: the model named by `:id`, found for the caller under a
 * policy of policy.ts, and the sharing switch for calls that name no model. They run before the
 * handler, from the route's own line; the services check again, so no path skips them.
 */
import type { Gate, Refusal } from '../http/route-table.ts';
import type { SharingGate } from '../orgs/sharing-gate.ts';
import type { Located } from './access.ts';
import type { ModelsService } from './models-service.ts';
import type { Standing } from './policy.ts';

/** Refused by every model gate: outsiders and former members see nothing; a switched-off or blocked member is told. */
const modelRefusals: Refusal[] = [
  { caller: 'other_org', status: 404, code: 'not_found' },
  { caller: 'removed', status: 404, code: 'not_found' },
  { caller: 'sharing_off', status: 403, code: 'sharing_disabled' },
  { caller: 'blocked', status: 403, code: 'blocked' },
];

/**
 * The model of `:id`, when the caller may see it, may share now and `allow` lets them do `action`.
 * `viewerRefused` documents that a viewer gets 403 (true for every policy above read).
 */
export function modelGate(models: ModelsService, action: string, allow: (s: Standing) => boolean, options: { viewerRefused: boolean; deleted?: boolean }): Gate<Located> {
  return {
    name: `model:${action}`,
    refusals: options.viewerRefused ? [...modelRefusals, { caller: 'member', status: 403, code: 'forbidden' }] : modelRefusals,
    check: (actor, params, ctx) => models.locate(actor, params['id']!, action, allow, ctx.ip, { deleted: options.deleted ?? false }),
  };
}

/** The caller may share somewhere now: for the calls that list across models (`GET /models`, `/events`). */
export function sharingGate(gate: SharingGate): Gate<undefined> {
  return {
    name: 'sharing',
    refusals: [
      { caller: 'sharing_off', status: 403, code: 'sharing_disabled' },
      { caller: 'blocked', status: 403, code: 'blocked' },
    ],
    check: (actor) => {
      gate.assertMayShare(actor.person, null);
      return undefined;
    },
  };
}
