/**
 * One reader of the event log for all the open event streams of a server, so that a write-out costs
 * one query and one serialisation however many streams are open: at each notify, the fan-out reads
 * the new events once, frames each once, and hands the same batch to every stream that is caught up
 * (the others read from the log themselves, from where they are). The access lookups a stream's
 * filter makes are answered from a cache that lives for one synchronous batch, so ten thousand
 * streams of two hundred people cost two hundred membership look-ups, not ten thousand, and see
 * exactly what each would have seen alone (nothing can change the database within the batch).
 *
 * The per-stream timers are one shared sweep too: every tick, the streams whose re-check (or
 * keep-alive) is due get it, so each stream is re-checked every `recheckMs` without ten thousand
 * intervals, and the work spreads over the interval instead of landing at once. The streams re-checked
 * in one tick share their answers too: a credential or a person's memberships is read once per tick,
 * however many of its streams are due (a desktop client holds its all-models and its model streams
 * with one token).
 */
import type { Actor } from '../http/authenticate.ts';
import type { Person } from '../identity/people.ts';
import { AppError } from '../errors.ts';
import type { SharingGate } from '../orgs/sharing-gate.ts';
import type { EventLog, ModelEvent } from './events.ts';
import type { Model, ModelsRepo } from './models-repo.ts';
import type { ModelRole } from './policy.ts';

/** Answers the access questions of a stream's filter; one per batch, so answers may be cached. */
export class AccessLookups {
  readonly #models: ModelsRepo;
  readonly #gate: SharingGate;
  readonly #model = new Map<string, Model | undefined>();
  readonly #members = new Map<string, Map<string, ModelRole>>();
  readonly #mayShare = new Map<string, string | null>();
  readonly #valid = new Map<string, boolean>();
  readonly #modelIds = new Map<string, string[]>();

  constructor(models: ModelsRepo, gate: SharingGate) {
    this.#models = models;
    this.#gate = gate;
  }

  model(id: string): Model | undefined {
    if (!this.#model.has(id)) this.#model.set(id, this.#models.get(id));
    return this.#model.get(id);
  }

  /** The person's role in the model, from one read of the model's members. */
  role(modelId: string, personId: string): ModelRole | null {
    let members = this.#members.get(modelId);
    if (!members) {
      members = new Map(this.#models.members(modelId).map((m) => [m.personId, m.role]));
      this.#members.set(modelId, members);
    }
    return members.get(personId) ?? null;
  }

  /** Whether the credential that opened a stream is still valid: asked once per credential per batch. */
  valid(actor: Actor, check: (actor: Actor) => boolean): boolean {
    const key = `${actor.person.id}\0${actor.tokenId ?? ''}\0${actor.sessionId ?? ''}\0${actor.via}`;
    let valid = this.#valid.get(key);
    if (valid === undefined) this.#valid.set(key, (valid = check(actor)));
    return valid;
  }

  /** The models the person is a member of. */
  modelIdsOf(personId: string): string[] {
    let ids = this.#modelIds.get(personId);
    if (!ids) this.#modelIds.set(personId, (ids = this.#models.modelIdsOf(personId)));
    return ids;
  }

  /** null when the person may share in the organization now, else the refusal's code. */
  refusal(person: Person, organizationId: string | null): string | null {
    // The e-mail is part of the key: a blocked address is judged on the person the stream holds.
    const key = `${person.id}\0${person.email ?? ''}\0${organizationId ?? ''}`;
    let code = this.#mayShare.get(key);
    if (code === undefined) {
      try {
        this.#gate.assertMayShare(person, organizationId);
        code = null;
      } catch (error) {
        code = error instanceof AppError ? error.code : 'forbidden';
      }
      this.#mayShare.set(key, code);
    }
    return code;
  }
}

/** Some events of the log, each framed once, for every stream that sends them. */
export class EventBatch {
  readonly events: readonly ModelEvent[];
  readonly access: AccessLookups;
  readonly #frames: Buffer[];
  #all: Buffer | undefined;

  constructor(events: readonly ModelEvent[], access: AccessLookups) {
    this.events = events;
    this.access = access;
    this.#frames = events.map((e) => Buffer.from(`id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify(e.data)}\n\n`));
  }

  get lastId(): number {
    return this.events.at(-1)?.id ?? 0;
  }

  /** The frames of the events at `indexes`; every event's frames are one shared buffer. */
  frames(indexes: readonly number[]): Buffer {
    if (indexes.length === this.events.length) return (this.#all ??= Buffer.concat(this.#frames));
    return Buffer.concat(indexes.map((i) => this.#frames[i]!));
  }
}

/** What the fan-out needs of an open stream. */
export interface FanoutStream {
  /** The id of the last event the stream has dealt with. */
  readonly lastId: number;
  /** True while it reads the log itself or waits for its socket to drain. */
  readonly busy: boolean;
  readonly personId: string;
  /** Sends what it may of `batch`, synchronously. */
  offer(batch: EventBatch): void;
  /** Reads the log itself from `lastId` and sends what is new. */
  wake(): void;
  /** Re-checks the credential and access; `access` is shared by the streams re-checked in one tick. */
  recheck(access: AccessLookups): void;
  heartbeat(): void;
}

interface Due {
  recheckAt: number;
  heartbeatAt: number;
}

const pageSize = 200;

export class EventFanout {
  readonly #events: EventLog;
  readonly #models: ModelsRepo;
  readonly #gate: SharingGate;
  readonly #recheckMs: number;
  readonly #heartbeatMs: number;
  readonly #streams = new Map<FanoutStream, Due>();
  #cursor: number | undefined;
  #timer: NodeJS.Timeout | undefined;
  #unsubscribe: (() => void) | undefined;
  #scheduled = false;

  constructor(d: { events: EventLog; models: ModelsRepo; gate: SharingGate; recheckMs: number; heartbeatMs: number }) {
    this.#events = d.events;
    this.#models = d.models;
    this.#gate = d.gate;
    this.#recheckMs = d.recheckMs;
    this.#heartbeatMs = d.heartbeatMs;
  }

  /** A fresh cache of access answers, for one synchronous batch of work. */
  lookups(): AccessLookups {
    return new AccessLookups(this.#models, this.#gate);
  }

  /** Open streams. */
  get size(): number {
    return this.#streams.size;
  }

  add(stream: FanoutStream): void {
    if (this.#streams.size === 0) this.#start();
    const now = performance.now();
    this.#streams.set(stream, { recheckAt: now + this.#recheckMs, heartbeatAt: now + this.#heartbeatMs });
  }

  remove(stream: FanoutStream): void {
    this.#streams.delete(stream);
    if (this.#streams.size === 0) this.#stop();
  }

  #start(): void {
    this.#cursor = this.#events.lastId();
    const unsubscribeEvents = this.#events.subscribe(() => this.#schedule());
    const unsubscribeAccess = this.#gate.onAccessChanged((change) => {
      const access = this.lookups();
      for (const stream of this.#streams.keys()) if (change.personId === null || change.personId === stream.personId) stream.recheck(access);
    });
    this.#unsubscribe = () => {
      unsubscribeEvents();
      unsubscribeAccess();
    };
    // A tick a tenth of the shorter interval: each stream is served within 10 % of its due time.
    const tick = Math.max(10, Math.min(1000, Math.floor(Math.min(this.#recheckMs, this.#heartbeatMs) / 10)));
    // Unref'd: open streams, not this sweep, keep a server alive.
    this.#timer = setInterval(() => this.#sweep(), tick).unref();
  }

  #stop(): void {
    this.#unsubscribe?.();
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#cursor = undefined;
  }

  /**
   * Delivers on the next turn of the event loop, not inside the notify: the write-out that notified
   * answers its 201 first (ten thousand socket writes are not its latency), and the notifies of one
   * turn (a group commit's write-outs) go out as one batch.
   */
  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#deliver();
    });
  }

  /** Reads what is new once and offers it to every caught-up stream; the others catch up alone. */
  #deliver(): void {
    if (this.#cursor === undefined) return;
    for (;;) {
      const from = this.#cursor;
      const events = this.#events.after(from, pageSize);
      if (events.length === 0) return;
      const batch = new EventBatch(events, this.lookups());
      this.#cursor = batch.lastId;
      // Map iteration is live: a stream that closes on the way is skipped, none is visited twice.
      for (const stream of this.#streams.keys()) {
        if (stream.busy || stream.lastId !== from) stream.wake();
        else stream.offer(batch);
      }
      if (events.length < pageSize) return;
    }
  }

  /** Re-checks and keeps alive the streams that are due. */
  #sweep(): void {
    const now = performance.now();
    const access = this.lookups();
    // Events another process appended (a command on the same data directory) arrive here too.
    this.#deliver();
    for (const [stream, due] of this.#streams) {
      if (due.recheckAt <= now) {
        due.recheckAt = now + this.#recheckMs;
        stream.recheck(access);
      }
      if (due.heartbeatAt <= now && this.#streams.has(stream)) {
        due.heartbeatAt = now + this.#heartbeatMs;
        stream.heartbeat();
      }
    }
  }
}
