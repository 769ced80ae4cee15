/**
 * The Server-Sent Events streams of PROTOCOL.md: every model of the caller (`/api/v1/events`) or one
 * model. Each wake-up re-reads the event log from the last id sent and re-checks, event by event,
 * that the person may still see it, so a removed member or a person whose sharing was switched off
 * stops receiving at once (the stream then ends with an `error` event naming the code).
 */
import { PassThrough } from 'node:stream';
import type { Context } from 'koa';
import { AppError } from '../errors.ts';
import type { Actor } from '../http/authenticate.ts';
import type { SharingGate } from '../orgs/sharing-gate.ts';
import type { EventLog, ModelEvent } from './events.ts';
import type { ModelsRepo } from './models-repo.ts';

export interface StreamOptions {
  heartbeatMs: number;
}

function frame(event: ModelEvent): string {
  return `id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(event.data)}\n\n`;
}

export function openEventStream(
  ctx: Context,
  actor: Actor,
  deps: { events: EventLog; models: ModelsRepo; gate: SharingGate },
  options: StreamOptions & { modelId?: string },
): void {
  const { events, models, gate } = deps;
  const personId = actor.person.id;
  const header = ctx.get('Last-Event-ID') || (typeof ctx.query['last_event_id'] === 'string' ? ctx.query['last_event_id'] : '');
  let lastId = /^\d{1,15}$/.test(header) ? Number(header) : events.lastId();
  const stream = new PassThrough();
  let closed = false;

  /** What this person may receive of `event` now: true, false (skip), or an error code (close). */
  const verdict = (event: ModelEvent): boolean | string => {
    if (options.modelId && event.modelId !== options.modelId) return false;
    const model = models.get(event.modelId);
    if (!model) return false;
    try {
      gate.assertMayShare(actor.person, model.organizationId);
    } catch (error) {
      // A model stream ends; the all-models stream skips it (other models may still be in reach).
      return options.modelId ? (error instanceof AppError ? error.code : 'forbidden') : false;
    }
    if (event.personId === personId) return true; // their own membership news, removal included
    return models.role(event.modelId, personId) !== null;
  };

  const close = (code?: string) => {
    if (closed) return;
    closed = true;
    if (code) stream.write(`event: error\ndata: ${JSON.stringify({ code })}\n\n`);
    unsubscribe();
    clearInterval(heartbeat);
    stream.end();
  };

  const pump = () => {
    if (closed) return;
    for (let batch = events.after(lastId); batch.length > 0 && !closed; batch = events.after(lastId)) {
      for (const event of batch) {
        lastId = event.id;
        const v = verdict(event);
        if (typeof v === 'string') return close(v);
        if (v) stream.write(frame(event));
        // A model stream ends when its person leaves the model.
        if (options.modelId && event.personId === personId && event.data['change'] === 'removed') return close('not_found');
      }
    }
  };

  /**
   * After an access change (sharing switched off, a block) that came with no event: a model stream
   * ends when its model is out of reach; the all-models stream when every model of the person is.
   */
  const recheck = () => {
    if (closed) return;
    const ids = options.modelId ? [options.modelId] : models.modelIdsOf(personId);
    let lastCode = 'not_found';
    const reachable = ids.some((id) => {
      const model = models.get(id);
      if (!model || model.deletedAt || models.role(id, personId) === null) return false;
      try {
        gate.assertMayShare(actor.person, model.organizationId);
        return true;
      } catch (error) {
        lastCode = error instanceof AppError ? error.code : 'forbidden';
        return false;
      }
    });
    if (!reachable && (options.modelId || ids.length > 0)) close(lastCode);
    else pump();
  };

  const unsubscribeEvents = events.subscribe(pump);
  const unsubscribeAccess = gate.onAccessChanged((change) => {
    if (change.personId === null || change.personId === personId) recheck();
  });
  const unsubscribe = () => {
    unsubscribeEvents();
    unsubscribeAccess();
  };
  const heartbeat = setInterval(() => stream.write(': keep-alive\n\n'), options.heartbeatMs);
  // The response closes when the client goes away (the request itself ends as soon as it is read).
  ctx.res.on('close', () => close());

  ctx.status = 200;
  ctx.set({ 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', 'X-Accel-Buffering': 'no', Connection: 'keep-alive' });
  ctx.body = stream;
  stream.write(': connected\n\n');
  pump();
}
