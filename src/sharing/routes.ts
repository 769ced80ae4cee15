/**
 * The sharing API of PROTOCOL.md, as one route table: each line names its gate (token scope); the
 * model rules (role, organization admin, sharing switches) are decided by the services.
 */
import Router from '@koa/router';
import type { Context } from 'koa';
import type { BlobService } from '../blobs/blob-service.ts';
import { parseContentDigest } from '../crypto/digest.ts';
import { AppError } from '../errors.ts';
import { actorOf, requireScope } from '../http/authenticate.ts';
import { readJson } from '../http/body.ts';
import { sendBlob } from '../http/download.ts';
import type { AppState } from '../http/state.ts';
import { parseInput } from '../http/input.ts';
import type { SharingGate } from '../orgs/sharing-gate.ts';
import { openEventStream } from './event-stream.ts';
import type { EventLog } from './events.ts';
import type { HistoryRepo } from './history-repo.ts';
import type { HistoryService, Upload } from './history-service.ts';
import type { ModelInvitations } from './invitations.ts';
import type { ModelsRepo } from './models-repo.ts';
import type { ModelsService } from './models-service.ts';
import { presentBaseline, presentInvitation, presentMember, presentModel, presentPacket } from './present.ts';
import { policy } from './policy.ts';
import * as schema from './schema.ts';

export interface SharingRouteDeps {
  models: ModelsService;
  history: HistoryService;
  invitations: ModelInvitations;
  repo: ModelsRepo;
  historyRepo: HistoryRepo;
  events: EventLog;
  gate: SharingGate;
  blobs: BlobService;
  /** The name others may see: the profile's display name, or "former member" after an erase. */
  displayName(personId: string): string;
  bodyLimit: number;
  limits: { packetBytes: number; baselineBytes: number };
  heartbeatMs: number;
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
async function closeUnreadOnError(ctx: Context, next: () => Promise<unknown>) {
  try {
    await next();
  } catch (error) {
    if (!ctx.req.readableEnded) ctx.set('Connection', 'close');
    throw error;
  }
}

export function sharingRouter(d: SharingRouteDeps) {
  const router = new Router<AppState>({ prefix: '/api/v1' });
  const read = requireScope('read');
  const write = requireScope('write');
  const name = (id: string) => d.displayName(id);
  // Read straight from the repo: the caller's right to the model was checked by whoever calls this.
  const latest = (modelId: string) => {
    const baseline = d.historyRepo.latestBaseline(modelId);
    return baseline ? { baseline, blob: d.blobs.info(baseline.blobId)! } : undefined;
  };
  const modelBody = (ctx: Context & { state: AppState }, modelId: string) => {
    const actor = actorOf(ctx);
    const model = d.repo.get(modelId)!;
    const role = d.repo.role(modelId, actor.person.id);
    return presentModel(model, role, role ? latest(modelId) : undefined);
  };

  router.get('/models', read, (ctx) => {
    const actor = actorOf(ctx);
    const { limit, cursor } = schema.page(ctx.query);
    const rows = d.repo.listForPerson(actor.person.id, cursor ?? '', limit + 1).filter((m) => {
      try {
        d.gate.assertMayShare(actor.person, m.organizationId);
        return true;
      } catch {
        return false;
      }
    });
    ctx.body = {
      models: rows.slice(0, limit).map((m) => presentModel(m, m.role, latest(m.id))),
      next: rows.length > limit ? schema.cursor(rows[limit - 1]!.id) : null,
    };
  });

  router.post('/models', write, async (ctx) => {
    const input = parseInput(schema.createModel, await readJson(ctx, d.bodyLimit));
    const model = d.models.create(actorOf(ctx), { name: input.name, description: input.description ?? null, organizationId: input.organization_id }, ctx.ip);
    ctx.status = 201;
    ctx.body = modelBody(ctx, model.id);
  });

  router.get('/models/:id', read, (ctx) => {
    d.models.locate(actorOf(ctx), ctx.params['id']!, 'model.get', (s) => s.role !== null || s.organizationAdmin, ctx.ip);
    ctx.body = modelBody(ctx, ctx.params['id']!);
  });

  router.patch('/models/:id', write, async (ctx) => {
    const input = parseInput(schema.updateModel, await readJson(ctx, d.bodyLimit));
    d.models.update(actorOf(ctx), ctx.params['id']!, input, ctx.ip);
    ctx.body = modelBody(ctx, ctx.params['id']!);
  });

  router.delete('/models/:id', write, (ctx) => {
    d.models.remove(actorOf(ctx), ctx.params['id']!, ctx.ip);
    ctx.status = 204;
  });

  router.post('/models/:id/restore', write, (ctx) => {
    d.models.restore(actorOf(ctx), ctx.params['id']!, ctx.ip);
    ctx.body = modelBody(ctx, ctx.params['id']!);
  });

  router.post('/models/:id/owner', write, async (ctx) => {
    const input = parseInput(schema.transfer, await readJson(ctx, d.bodyLimit));
    d.models.transfer(actorOf(ctx), ctx.params['id']!, input.user_id, ctx.ip);
    ctx.body = modelBody(ctx, ctx.params['id']!);
  });

  router.get('/models/:id/members', read, (ctx) => {
    ctx.body = { members: d.models.members(actorOf(ctx), ctx.params['id']!, ctx.ip).map((m) => presentMember(m, name(m.personId))) };
  });

  router.put('/models/:id/members/:user_id', write, async (ctx) => {
    const input = parseInput(schema.setRole, await readJson(ctx, d.bodyLimit));
    const member = d.models.setRole(actorOf(ctx), ctx.params['id']!, ctx.params['user_id']!, input.role, ctx.ip);
    ctx.body = presentMember(member, name(member.personId));
  });

  router.delete('/models/:id/members/:user_id', write, (ctx) => {
    d.models.removeMember(actorOf(ctx), ctx.params['id']!, ctx.params['user_id']!, ctx.ip);
    ctx.status = 204;
  });

  router.post('/models/:id/invitations', write, async (ctx) => {
    const input = parseInput(schema.invite, await readJson(ctx, d.bodyLimit));
    ctx.status = 201;
    ctx.body = presentInvitation(d.invitations.invite(actorOf(ctx), ctx.params['id']!, input.email, input.role, ctx.ip));
  });

  router.get('/models/:id/invitations', read, (ctx) => {
    ctx.body = { invitations: d.invitations.pending(actorOf(ctx), ctx.params['id']!, ctx.ip).map(presentInvitation) };
  });

  router.delete('/models/:id/invitations/:inv', write, (ctx) => {
    d.invitations.revoke(actorOf(ctx), ctx.params['id']!, ctx.params['inv']!, ctx.ip);
    ctx.status = 204;
  });

  router.post('/models/:id/baselines', write, closeUnreadOnError, async (ctx) => {
    // Who may comes before what was sent: an outsider learns nothing from the order of the checks.
    d.models.locate(actorOf(ctx), ctx.params['id']!, 'model.baseline', policy.write, ctx.ip);
    const seq = schema.sequenceNumber(ctx.query['seq'], 'seq')!;
    const baseline = await d.history.createBaseline(actorOf(ctx), ctx.params['id']!, { seq, ...upload(ctx, d.limits.baselineBytes) }, ctx.ip);
    ctx.status = 201;
    ctx.body = presentBaseline(baseline, d.blobs.info(baseline.blobId));
  });

  router.get('/models/:id/baselines', read, (ctx) => {
    const { limit, cursor } = schema.page(ctx.query);
    const before = cursor === undefined ? Number.MAX_SAFE_INTEGER : Number(cursor);
    const { baselines, more } = d.history.baselines(actorOf(ctx), ctx.params['id']!, before, limit, ctx.ip);
    ctx.body = { baselines: baselines.map((b) => presentBaseline(b, d.blobs.info(b.blobId))), next: more ? schema.cursor(baselines.at(-1)!.seq) : null };
  });

  router.get('/models/:id/baselines/:seq', read, async (ctx) => {
    const seq = ctx.params['seq'] === 'latest' ? 'latest' : schema.sequenceNumber(ctx.params['seq'], 'seq')!;
    const { baseline, blob } = d.history.baselineContent(actorOf(ctx), ctx.params['id']!, seq, ctx.ip);
    await sendBlob(ctx, d.blobs, blob, { 'Modelshare-Seq': String(baseline.seq) }, { model_id: ctx.params['id']!, baseline_seq: baseline.seq });
  });

  router.post('/models/:id/packets', write, closeUnreadOnError, async (ctx) => {
    d.models.locate(actorOf(ctx), ctx.params['id']!, 'model.write_out', policy.write, ctx.ip);
    const base = schema.sequenceNumber(ctx.query['base'], 'base')!;
    const input = { base, comment: schema.comment(ctx.get('Modelshare-Comment')), idempotencyKey: schema.idempotencyKey(ctx.get('Idempotency-Key')) };
    const { packet, replayed } = await d.history.writeOut(actorOf(ctx), ctx.params['id']!, { ...input, ...upload(ctx, d.limits.packetBytes) }, ctx.ip);
    ctx.status = 201;
    if (replayed) ctx.set('Idempotent-Replayed', 'true');
    ctx.body = presentPacket(packet, packet.blobId ? d.blobs.info(packet.blobId) : undefined);
  });

  router.get('/models/:id/packets', read, (ctx) => {
    const { limit, cursor } = schema.page(ctx.query);
    const after = cursor !== undefined ? schema.sequenceNumber(cursor, 'next')! : (schema.sequenceNumber(ctx.query['after'], 'after', false) ?? 0);
    const { packets, head, more } = d.history.readIn(actorOf(ctx), ctx.params['id']!, after, limit, ctx.ip);
    ctx.body = { packets: packets.map((p) => presentPacket(p, p.blobId ? d.blobs.info(p.blobId) : undefined)), head, next: more ? schema.cursor(packets.at(-1)!.seq) : null };
  });

  router.get('/models/:id/packets/:seq', read, async (ctx) => {
    const { packet, blob } = d.history.packetContent(actorOf(ctx), ctx.params['id']!, schema.sequenceNumber(ctx.params['seq'], 'seq')!, ctx.ip);
    await sendBlob(ctx, d.blobs, blob, { 'Modelshare-Seq': String(packet.seq) }, { model_id: ctx.params['id']!, packet_seq: packet.seq });
  });

  const stream = { events: d.events, models: d.repo, gate: d.gate };
  router.get('/events', read, (ctx) => openEventStream(ctx, actorOf(ctx), stream, { heartbeatMs: d.heartbeatMs }));
  router.get('/models/:id/events', read, (ctx) => {
    d.models.locate(actorOf(ctx), ctx.params['id']!, 'model.events', (s) => s.role !== null, ctx.ip);
    openEventStream(ctx, actorOf(ctx), stream, { heartbeatMs: d.heartbeatMs, modelId: ctx.params['id']! });
  });

  return router;
}
