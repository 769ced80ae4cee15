/**
 * The sharing API of PROTOCOL.md as its part of the route table: each line names who may call (a
 * token and its scope), the model gate with its policy, and the input schemas. Handlers receive an
 * authorized actor and typed input; the services decide the rest.
 */
import type { Context } from 'koa';
import type { BlobService } from '../blobs/blob-service.ts';
import { parseContentDigest } from '../crypto/digest.ts';
import { AppError } from '../errors.ts';
import type { Actor } from '../http/authenticate.ts';
import { sendBlob } from '../http/download.ts';
import { access, route, type AnyRoute, type RouteContext } from '../http/route-table.ts';
import type { SharingGate } from '../orgs/sharing-gate.ts';
import { openEventStream, type StreamDeps } from './event-stream.ts';
import { modelGate, sharingGate } from './gates.ts';
import type { HistoryRepo } from './history-repo.ts';
import type { HistoryService, Upload } from './history-service.ts';
import type { ModelInvitations } from './invitations.ts';
import type { ModelsRepo } from './models-repo.ts';
import type { ModelsService } from './models-service.ts';
import type { LocksService } from './locks.ts';
import { policy } from './policy.ts';
import { presentBaseline, presentInvitation, presentMember, presentModel, presentPacket } from './present.ts';
import * as responses from './responses.ts';
import * as schema from './schema.ts';

export interface SharingRouteDeps {
  models: ModelsService;
  history: HistoryService;
  locks: LocksService;
  invitations: ModelInvitations;
  repo: ModelsRepo;
  historyRepo: HistoryRepo;
  gate: SharingGate;
  blobs: BlobService;
  stream: StreamDeps;
  /** The name others may see: the profile's display name, or "former member" after an erase. */
  displayName(personId: string): string;
  limits: { packetBytes: number; baselineBytes: number };
}

/** Checks an upload's headers before a byte is read; the body then streams to the blob store. */
function upload(ctx: Context, limit: number): Upload {
  if (!ctx.is('application/octet-stream')) throw new AppError('unsupported_media_type', 'Send the bytes as application/octet-stream');
  const declared = ctx.get('Content-Length');
  if (!declared && !ctx.get('Transfer-Encoding')) throw new AppError('length_required', 'Send Content-Length, or the body chunked');
  if (declared && Number(declared) > limit) throw new AppError('payload_too_large', `The body is larger than the limit of ${limit} bytes`, { extra: { limit } });
  return { body: ctx.req, expected: parseContentDigest(ctx.get('Content-Digest') || undefined) };
}

/** An upload refused before its body was read closes the connection, instead of reading it all to discard it. */
async function closeUnreadOnError<T>(ctx: RouteContext, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (!ctx.req.readableEnded) ctx.set('Connection', 'close');
    throw error;
  }
}

export function sharingRoutes(d: SharingRouteDeps): AnyRoute[] {
  const read = access.token('read');
  const write = access.token('write');
  const name = (id: string) => d.displayName(id);
  const gate = (action: string, allow: Parameters<typeof modelGate>[2], viewerRefused: boolean, deleted = false) => modelGate(d.models, action, allow, { viewerRefused, deleted });
  // Read straight from the repo: the caller's right to the model was checked by the gate.
  const latest = (modelId: string) => {
    const baseline = d.historyRepo.latestBaseline(modelId);
    return baseline ? { baseline, blob: d.blobs.info(baseline.blobId)! } : undefined;
  };
  const modelBody = (actor: Actor, modelId: string) => {
    const model = d.repo.get(modelId)!;
    const role = d.repo.role(modelId, actor.person.id);
    return presentModel(model, role, role ? latest(modelId) : undefined, d.locks.get(modelId));
  };

  return [
    route({
      method: 'GET', path: '/api/v1/models', summary: 'The models the caller belongs to', access: read, gate: sharingGate(d.gate), query: schema.pageQuery, response: responses.modelListResponse,
      handler: ({ actor, query }) => {
        const { models, more } = d.models.list(actor, query.next ?? '', query.limit);
        return { models: models.map((m) => presentModel(m, m.role, latest(m.id), d.locks.get(m.id))), next: more ? schema.cursor(models.at(-1)!.id) : null };
      },
    }),
    route({
      method: 'POST', path: '/api/v1/models', summary: 'Share a new model', access: write, gate: sharingGate(d.gate), body: { kind: 'json', schema: schema.createModel }, status: 201, response: responses.modelResponse,
      handler: ({ actor, body, ip }, ctx) => {
        const idempotencyKey = schema.idempotencyKey(ctx.get('Idempotency-Key'));
        const { model, replayed } = d.models.create(actor, { name: body.name, description: body.description ?? null, organizationId: body.organization_id, idempotencyKey }, ip);
        if (replayed) ctx.set('Idempotent-Replayed', 'true');
        return modelBody(actor, model.id);
      },
    }),
    route({
      method: 'GET', path: '/api/v1/models/:id', summary: 'One model', access: read, params: schema.modelParams, gate: gate('model.get', policy.view, false), response: responses.modelResponse,
      handler: ({ actor, params }) => modelBody(actor, params.id),
    }),
    route({
      method: 'PATCH', path: '/api/v1/models/:id', summary: 'Rename or describe a model', access: write, params: schema.modelParams, gate: gate('model.update', policy.manage, true), body: { kind: 'json', schema: schema.updateModel }, response: responses.modelResponse,
      handler: ({ actor, params, body, ip }) => {
        d.models.update(actor, params.id, body, ip);
        return modelBody(actor, params.id);
      },
    }),
    route({
      method: 'DELETE', path: '/api/v1/models/:id', summary: 'Delete a model (restorable until purged)', access: write, params: schema.modelParams, gate: gate('model.delete', policy.own, true),
      handler: ({ actor, params, ip }) => void d.models.remove(actor, params.id, ip),
    }),
    route({
      method: 'POST', path: '/api/v1/models/:id/restore', summary: 'Restore a deleted model', access: write, params: schema.modelParams, response: responses.modelResponse,
      // Only deleted models are found here: to anyone else a live model is as absent as a foreign one.
      gate: { ...gate('model.restore', policy.own, false, true), refusals: gate('model.restore', policy.own, false, true).refusals.filter((r) => r.caller !== 'sharing_off' && r.caller !== 'blocked').concat([{ caller: 'member', status: 404, code: 'not_found' }]) },
      handler: ({ actor, params, ip }) => {
        d.models.restore(actor, params.id, ip);
        return modelBody(actor, params.id);
      },
    }),
    route({
      method: 'POST', path: '/api/v1/models/:id/owner', summary: 'Give the model another owner', access: write, params: schema.modelParams, gate: gate('model.transfer', policy.own, true), body: { kind: 'json', schema: schema.transfer }, response: responses.modelResponse,
      handler: ({ actor, params, body, ip }) => {
        d.models.transfer(actor, params.id, body.user_id, ip);
        return modelBody(actor, params.id);
      },
    }),
    route({
      method: 'GET', path: '/api/v1/models/:id/members', summary: 'The members of a model and their roles', access: read, params: schema.modelParams, gate: gate('model.members', policy.view, false), response: responses.memberListResponse,
      handler: ({ actor, params, ip }) => ({ members: d.models.members(actor, params.id, ip).map((m) => presentMember(m, name(m.personId))) }),
    }),
    route({
      method: 'PUT', path: '/api/v1/models/:id/members/:user_id', summary: "Set a member's role", access: write, params: schema.memberParams, gate: gate('model.member_role', policy.manage, true), body: { kind: 'json', schema: schema.setRole }, response: responses.memberResponse,
      handler: ({ actor, params, body, ip }) => {
        const member = d.models.setRole(actor, params.id, params.user_id, body.role, ip);
        return presentMember(member, name(member.personId));
      },
    }),
    route({
      method: 'DELETE', path: '/api/v1/models/:id/members/:user_id', summary: 'Remove a member (or leave)', access: write, params: schema.memberParams, gate: gate('model.member_remove', policy.view, false),
      handler: ({ actor, params, ip }) => void d.models.removeMember(actor, params.id, params.user_id, ip),
    }),
    route({
      method: 'POST', path: '/api/v1/models/:id/invitations', summary: 'Invite someone to the model by e-mail', access: write, params: schema.modelParams, gate: gate('model.invite', policy.manage, true), body: { kind: 'json', schema: schema.invite }, status: 201, response: responses.modelInvitationResponse, problems: ['invitation_limit', 'blocked', 'conflict'],
      handler: ({ actor, params, body, ip }) => presentInvitation(d.invitations.invite(actor, params.id, body.email, body.role, ip)),
    }),
    route({
      method: 'GET', path: '/api/v1/models/:id/invitations', summary: "The model's pending invitations", access: read, params: schema.modelParams, gate: gate('model.invitations', policy.manage, true), response: responses.invitationListResponse,
      handler: ({ actor, params, ip }) => ({ invitations: d.invitations.pending(actor, params.id, ip).map(presentInvitation) }),
    }),
    route({
      method: 'DELETE', path: '/api/v1/models/:id/invitations/:inv', summary: 'Revoke a pending invitation', access: write, params: schema.invitationParams, gate: gate('model.invite_revoke', policy.manage, true),
      handler: ({ actor, params, ip }) => void d.invitations.revoke(actor, params.id, params.inv, ip),
    }),
    route({
      method: 'POST', path: '/api/v1/models/:id/baselines', summary: 'Upload a new baseline', access: write, params: schema.modelParams, gate: gate('model.baseline', policy.write, true), query: schema.baselineQuery, body: { kind: 'stream' }, status: 201, response: responses.baselineResponse, problems: ['not_up_to_date'],
      handler: ({ actor, params, query, ip }, ctx) =>
        closeUnreadOnError(ctx, async () => {
          const baseline = await d.history.createBaseline(actor, params.id, { seq: query.seq, ...upload(ctx, d.limits.baselineBytes) }, ip);
          return presentBaseline(baseline, d.blobs.info(baseline.blobId));
        }),
    }),
    route({
      method: 'GET', path: '/api/v1/models/:id/baselines', summary: 'The baselines of a model, newest first', access: read, params: schema.modelParams, gate: gate('model.baselines', policy.read, false), query: schema.pageQuery, response: responses.baselineListResponse,
      handler: ({ actor, params, query, ip }) => {
        const before = query.next === undefined ? Number.MAX_SAFE_INTEGER : schema.cursorSeq(query.next);
        const { baselines, more } = d.history.baselines(actor, params.id, before, query.limit, ip);
        return { baselines: baselines.map((b) => presentBaseline(b, d.blobs.info(b.blobId))), next: more ? schema.cursor(baselines.at(-1)!.seq) : null };
      },
    }),
    route({
      method: 'GET', path: '/api/v1/models/:id/baselines/:seq', summary: "A baseline's bytes (Range supported)", access: read, params: schema.baselineParams, gate: gate('model.download', policy.read, false), produces: 'blob',
      handler: async ({ actor, params, ip }, ctx) => {
        const { baseline, blob } = d.history.baselineContent(actor, params.id, params.seq, ip);
        await sendBlob(ctx, d.blobs, blob, { 'Modelshare-Seq': String(baseline.seq) }, { model_id: params.id, baseline_seq: baseline.seq });
      },
    }),
    route({
      method: 'POST', path: '/api/v1/models/:id/packets', summary: 'Write out a change packet', access: write, params: schema.modelParams, gate: gate('model.write_out', policy.write, true), query: schema.writeOutQuery, body: { kind: 'stream' }, status: 201, response: responses.packetResponse, headers: ['Idempotency-Key', 'Modelshare-Comment'], problems: ['not_up_to_date'],
      handler: ({ actor, params, query, ip }, ctx) =>
        closeUnreadOnError(ctx, async () => {
          const input = { base: query.base, comment: schema.comment(ctx.get('Modelshare-Comment')), idempotencyKey: schema.idempotencyKey(ctx.get('Idempotency-Key')) };
          const { packet, replayed } = await d.history.writeOut(actor, params.id, { ...input, ...upload(ctx, d.limits.packetBytes) }, ip);
          if (replayed) ctx.set('Idempotent-Replayed', 'true');
          return presentPacket(packet, packet.blobId ? d.blobs.info(packet.blobId) : undefined);
        }),
    }),
    route({
      method: 'GET', path: '/api/v1/models/:id/packets', summary: 'Read in: the packets after a sequence number', access: read, params: schema.modelParams, gate: gate('model.read_in', policy.read, false), query: schema.packetsQuery, response: responses.packetListResponse, problems: ['history_pruned'],
      handler: ({ actor, params, query, ip }) => {
        const after = query.next !== undefined ? schema.cursorSeq(query.next) : (query.after ?? 0);
        const { packets, head, more } = d.history.readIn(actor, params.id, after, query.limit, ip);
        return { packets: packets.map((p) => presentPacket(p, p.blobId ? d.blobs.info(p.blobId) : undefined)), head, next: more ? schema.cursor(packets.at(-1)!.seq) : null };
      },
    }),
    route({
      method: 'GET', path: '/api/v1/models/:id/packets/:seq', summary: "A packet's bytes (Range supported)", access: read, params: schema.packetParams, gate: gate('model.download', policy.read, false), produces: 'blob', problems: ['history_pruned'],
      handler: async ({ actor, params, ip }, ctx) => {
        const { packet, blob } = d.history.packetContent(actor, params.id, params.seq, ip);
        await sendBlob(ctx, d.blobs, blob, { 'Modelshare-Seq': String(packet.seq) }, { model_id: params.id, packet_seq: packet.seq });
      },
    }),
    route({
      method: 'GET', path: '/api/v1/events', summary: "Server-sent events of every model of the caller's", access: read, gate: sharingGate(d.gate), produces: 'events', problems: ['events_expired', 'too_many_requests'],
      handler: ({ actor }, ctx) => openEventStream(ctx, actor, d.stream, {}),
    }),
    route({
      method: 'GET', path: '/api/v1/models/:id/events', summary: "Server-sent events of one model", access: read, params: schema.modelParams, gate: gate('model.events', policy.read, false), produces: 'events', problems: ['events_expired', 'too_many_requests'],
      handler: ({ actor, params }, ctx) => openEventStream(ctx, actor, d.stream, { modelId: params.id }),
    }),
  ];
}
