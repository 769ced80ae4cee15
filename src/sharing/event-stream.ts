/**
 * The Server-Sent Events streams of PROTOCOL.md: every model of the caller (`/api/v1/events`) or one
 * model. A stream that is caught up gets new events from the server's one fan-out (event-fanout.ts),
 * framed once for all; one that is behind (a replay, a slow socket) reads the event log itself in
 * pages from the last id sent, waiting for the socket to drain between pages. Either way it checks,
 * event by event, that the person may still see it. Every `recheckMs` the fan-out's sweep has it
 * re-check the credential that opened it and the person's access, so a revoked or expired token, a
 * removed member or a switched-off person loses the stream within seconds (it then ends with an
 * `error` event naming the code).
 */
import type { ServerResponse } from 'node:http';
import type { Context } from 'koa';
import type { Clock } from '../clock.ts';
import { AppError } from '../errors.ts';
import type { Actor } from '../http/authenticate.ts';
import type { SharingGate } from '../orgs/sharing-gate.ts';
import { EventBatch, type AccessLookups, type EventFanout, type FanoutStream } from './event-fanout.ts';
import type { EventLog, ModelEvent } from './events.ts';
import type { ModelsRepo } from './models-repo.ts';

export interface StreamDeps {
  events: EventLog;
  models: ModelsRepo;
  gate: SharingGate;
  clock: Clock;
  /** The server's one reader of the event log, and the shared re-check and keep-alive sweep. */
  fanout: EventFanout;
  /** Whether the token or session that opened the stream is still valid. */
  stillValid(actor: Actor): boolean;
  /** How far back `Last-Event-ID` may reach; older asks get 410 and the client re-joins. */
  replayWindowMs: number;
  /** Open streams allowed per person. */
  maxPerPerson: number;
  /** Open streams per person, shared by every stream of this server. */
  open: Map<string, number>;
}

const pageSize = 200;

/** Resolves when the response wants more, or is gone; leaves no listener behind. */
function drained(stream: ServerResponse): Promise<void> {
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

class EventStream implements FanoutStream {
  readonly personId: string;
  lastId: number;
  busy = false;
  readonly #actor: Actor;
  readonly #deps: StreamDeps;
  readonly #modelId: string | undefined;
  /** The response itself: no stream between the frames and the socket (one buffer and one pipe less per stream). */
  readonly #out: ServerResponse;
  /** Whether the person had models when the all-models stream opened (losing the last one ends it). */
  readonly #hadModels: boolean;
  #closed = false;
  #again = false;

  constructor(out: ServerResponse, actor: Actor, deps: StreamDeps, modelId: string | undefined, lastId: number) {
    this.#out = out;
    this.#actor = actor;
    this.personId = actor.person.id;
    this.#deps = deps;
    this.#modelId = modelId;
    this.lastId = lastId;
    this.#hadModels = !modelId && deps.models.modelIdsOf(this.personId).length > 0;
  }

  open(): void {
    this.#deps.fanout.add(this);
    // The response closes when the client goes away (the request itself ends as soon as it is read).
    this.#out.on('close', () => this.close());
    this.#out.on('error', () => this.close());
    this.#out.write(': connected\n\n');
    this.wake();
  }

  close(code?: string): void {
    if (this.#closed) return;
    this.#closed = true;
    const open = this.#deps.open;
    open.set(this.personId, (open.get(this.personId) ?? 1) - 1);
    if (open.get(this.personId) === 0) open.delete(this.personId);
    if (code) this.#out.write(`event: error\ndata: ${JSON.stringify({ code })}\n\n`);
    this.#deps.fanout.remove(this);
    this.#out.end();
  }

  /** What this person may receive of `event` now: true, false (skip), or an error code (close). */
  #verdict(event: ModelEvent, access: AccessLookups): boolean | string {
    if (this.#modelId && event.modelId !== this.#modelId) return false;
    const model = access.model(event.modelId);
    if (!model) return false;
    const refusal = access.refusal(this.#actor.person, model.organizationId);
    // A model stream ends; the all-models stream skips it (other models may still be in reach).
    if (refusal) return this.#modelId ? refusal : false;
    if (event.personId === this.personId) return true; // their own membership news, removal included
    return access.role(event.modelId, this.personId) !== null;
  }

  /** Sends what the person may see of `batch`; false when the socket wants a pause (or the stream closed). */
  offer(batch: EventBatch): boolean {
    const sent: number[] = [];
    for (const [i, event] of batch.events.entries()) {
      this.lastId = event.id;
      const v = this.#verdict(event, batch.access);
      if (typeof v === 'string') return this.#finish(batch, sent, v);
      if (v) sent.push(i);
      // A model stream ends when its person leaves the model.
      if (this.#modelId && event.personId === this.personId && event.data['change'] === 'removed') return this.#finish(batch, sent, 'not_found');
    }
    if (sent.length === 0 || this.#out.write(batch.frames(sent))) return true;
    if (!this.busy) {
      // The socket is full: read on from the log once it drains.
      this.busy = true;
      void drained(this.#out).then(() => {
        this.busy = false;
        this.wake();
      });
    }
    return false;
  }

  #finish(batch: EventBatch, sent: number[], code: string): false {
    if (sent.length > 0) this.#out.write(batch.frames(sent));
    this.close(code);
    return false;
  }

  /** Reads the log from `lastId`, a page at a time, waiting for the socket to take each page. */
  wake(): void {
    if (this.#closed) return;
    if (this.busy) return void (this.#again = true);
    this.busy = true;
    void this.#pump().catch(() => this.close()).finally(() => (this.busy = false));
  }

  async #pump(): Promise<void> {
    do {
      this.#again = false;
      for (let events = this.#deps.events.after(this.lastId, pageSize); events.length > 0 && !this.#closed; events = this.#deps.events.after(this.lastId, pageSize)) {
        // busy is set while the pump runs, so a full socket is waited for here, not by offer.
        if (!this.offer(new EventBatch(events, this.#deps.fanout.lookups())) && !this.#closed) await drained(this.#out);
      }
    } while (this.#again && !this.#closed);
  }

  /** Ends the stream when its credential ended or its person lost what it shows. */
  recheck(access: AccessLookups): void {
    if (this.#closed) return;
    if (!access.valid(this.#actor, this.#deps.stillValid)) return this.close('unauthorized');
    let lastCode = 'not_found';
    const reachable = (id: string) => {
      const model = access.model(id);
      if (!model || model.deletedAt || access.role(id, this.personId) === null) return false;
      const refusal = access.refusal(this.#actor.person, model.organizationId);
      if (refusal) lastCode = refusal;
      return refusal === null;
    };
    if (this.#modelId) {
      if (!reachable(this.#modelId)) this.close(lastCode);
      return;
    }
    const refusal = access.refusal(this.#actor.person, null);
    if (refusal) return this.close(refusal);
    const ids = access.modelIdsOf(this.personId);
    // Removed from their last model (or cut off from every one): nothing is left to show.
    if ((ids.length > 0 || this.#hadModels) && !ids.some(reachable)) this.close(lastCode);
  }

  heartbeat(): void {
    if (!this.#closed) this.#out.write(': keep-alive\n\n');
  }
}

export function openEventStream(ctx: Context, actor: Actor, deps: StreamDeps, options: { modelId?: string }): void {
  const personId = actor.person.id;
  const lastId = startingPoint(ctx, deps);
  if ((deps.open.get(personId) ?? 0) >= deps.maxPerPerson) {
    throw new AppError('too_many_requests', `At most ${deps.maxPerPerson} event streams may be open per person; close one first`, { headers: { 'Retry-After': '30' } });
  }
  deps.open.set(personId, (deps.open.get(personId) ?? 0) + 1);
  const stream = new EventStream(ctx.res, actor, deps, options.modelId, lastId);
  ctx.status = 200;
  ctx.set({ 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', 'X-Accel-Buffering': 'no', Connection: 'keep-alive' });
  // The stream writes the response itself; the headers set so far (these and the middleware's) go with the first frame.
  ctx.respond = false;
  ctx.res.writeHead(200);
  stream.open();
}
