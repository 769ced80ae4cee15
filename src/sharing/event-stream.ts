/**
 * The Server-Sent Events streams of PROTOCOL.md: every model of the caller (`/api/v1/events`) or one
 * model. Each wake-up reads the event log in pages from the last id sent, waiting for the socket to
 * drain between pages, and re-checks, event by event, that the person may still see it. Every few
 * seconds the stream also re-checks the credential that opened it and the person's access, so a
 * revoked or expired token, a removed member or a switched-off person loses the stream within
 * seconds (it then ends with an `error` event naming the code).
 */
import { PassThrough } from 'node:stream';
import type { Context } from 'koa';
import type { Clock } from '../clock.ts';
import { AppError } from '../errors.ts';
import type { Actor } from '../http/authenticate.ts';
import type { SharingGate } from '../orgs/sharing-gate.ts';
import type { EventLog, ModelEvent } from './events.ts';
import type { ModelsRepo } from './models-repo.ts';

export interface StreamDeps {
  events: EventLog;
  models: ModelsRepo;
  gate: SharingGate;
  clock: Clock;
  /** Whether the token or session that opened the stream is still valid. */
  stillValid(actor: Actor): boolean;
  heartbeatMs: number;
  /** How often an open stream re-checks its credential and access. */
  recheckMs: number;
  /** How far back `Last-Event-ID` may reach; older asks get 410 and the client re-joins. */
  replayWindowMs: number;
  /** Open streams allowed per person. */
  maxPerPerson: number;
  /** Open streams per person, shared by every stream of this server. */
  open: Map<string, number>;
}

const pageSize = 200;

/** Resolves when the stream wants more, or is gone; leaves no listener behind. */
function drained(stream: PassThrough): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
  });
}

function frame(event: ModelEvent): string {
  return `id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(event.data)}\n\n`;
}

/** Where the stream starts: after `Last-Event-ID`, if that is inside the replay window, else now. */
function startingPoint(ctx: Context, deps: StreamDeps): number {
  const header = ctx.get('Last-Event-ID') || (typeof ctx.query['last_event_id'] === 'string' ? ctx.query['last_event_id'] : '');
  if (header === '') return deps.events.lastId();
  if (!/^\d{1,15}$/.test(header)) throw new AppError('validation_failed', 'Last-Event-ID must be an event id this server sent');
  const from = Number(header);
  const next = deps.events.firstAfter(from);
  // Nothing newer: the client is up to date. Newer, but older than the window (or already purged): re-join.
  if (next && (from < deps.events.oldestId() - 1 || deps.clock.now().getTime() - next.createdAt.getTime() > deps.replayWindowMs)) {
    throw new AppError('events_expired', 'The events after that id are no longer kept; join the model again (download the latest baseline and read in)');
  }
  return from;
}

export function openEventStream(ctx: Context, actor: Actor, deps: StreamDeps, options: { modelId?: string }): void {
  const { events, models, gate } = deps;
  const personId = actor.person.id;
  let lastId = startingPoint(ctx, deps);
  if ((deps.open.get(personId) ?? 0) >= deps.maxPerPerson) {
    throw new AppError('too_many_requests', `At most ${deps.maxPerPerson} event streams may be open per person; close one first`, { headers: { 'Retry-After': '30' } });
  }
  deps.open.set(personId, (deps.open.get(personId) ?? 0) + 1);
  const stream = new PassThrough();
  const hadModels = !options.modelId && models.modelIdsOf(personId).length > 0;
  let closed = false;
  let pumping = false;
  let again = false;

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
    deps.open.set(personId, (deps.open.get(personId) ?? 1) - 1);
    if (deps.open.get(personId) === 0) deps.open.delete(personId);
    if (code) stream.write(`event: error\ndata: ${JSON.stringify({ code })}\n\n`);
    unsubscribe();
    clearInterval(heartbeat);
    clearInterval(recheckTimer);
    stream.end();
  };

  /** Sends what is new, a page at a time, waiting for the socket to take each page. */
  const pump = async () => {
    if (pumping) return void (again = true);
    pumping = true;
    try {
      do {
        again = false;
        for (let batch = events.after(lastId, pageSize); batch.length > 0 && !closed; batch = events.after(lastId, pageSize)) {
          let chunk = '';
          for (const event of batch) {
            lastId = event.id;
            const v = verdict(event);
            if (typeof v === 'string') return close(v);
            if (v) chunk += frame(event);
            // A model stream ends when its person leaves the model.
            if (options.modelId && event.personId === personId && event.data['change'] === 'removed') {
              stream.write(chunk);
              return close('not_found');
            }
          }
          if (chunk && !stream.write(chunk) && !closed) await drained(stream);
        }
      } while (again && !closed);
    } finally {
      pumping = false;
    }
  };
  const wake = () => void pump().catch(() => close());

  /** Ends the stream when its credential ended or its person lost what it shows; otherwise sends what is new. */
  const recheck = () => {
    if (closed) return;
    if (!deps.stillValid(actor)) return close('unauthorized');
    let lastCode = 'not_found';
    const reachable = (id: string) => {
      const model = models.get(id);
      if (!model || model.deletedAt || models.role(id, personId) === null) return false;
      try {
        gate.assertMayShare(actor.person, model.organizationId);
        return true;
      } catch (error) {
        lastCode = error instanceof AppError ? error.code : 'forbidden';
        return false;
      }
    };
    if (options.modelId) {
      if (!reachable(options.modelId)) return close(lastCode);
    } else {
      try {
        gate.assertMayShare(actor.person, null);
      } catch (error) {
        return close(error instanceof AppError ? error.code : 'forbidden');
      }
      const ids = models.modelIdsOf(personId);
      // Removed from their last model (or cut off from every one): nothing is left to show.
      if ((ids.length > 0 || hadModels) && !ids.some(reachable)) return close(lastCode);
    }
    wake();
  };

  const unsubscribeEvents = events.subscribe(wake);
  const unsubscribeAccess = gate.onAccessChanged((change) => {
    if (change.personId === null || change.personId === personId) recheck();
  });
  const unsubscribe = () => {
    unsubscribeEvents();
    unsubscribeAccess();
  };
  const heartbeat = setInterval(() => stream.write(': keep-alive\n\n'), deps.heartbeatMs);
  const recheckTimer = setInterval(recheck, deps.recheckMs);
  // The response closes when the client goes away (the request itself ends as soon as it is read).
  ctx.res.on('close', () => close());
  stream.on('error', () => close());

  ctx.status = 200;
  ctx.set({ 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', 'X-Accel-Buffering': 'no', Connection: 'keep-alive' });
  ctx.body = stream;
  stream.write(': connected\n\n');
  wake();
}
