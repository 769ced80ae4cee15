/**
 * The notification log and its live delivery. Events are rows written in the same transaction as
 * the change they announce, so a stream replays exactly what happened, in order, from any
 * Last-Event-ID. After a commit the service calls `notify()`, and every open stream reads the rows
 * it has not sent yet, filtered by what its person may see at that moment.
 */
import { EventEmitter } from 'node:events';
import type { Clock } from '../clock.ts';
import type { Db } from '../db/open.ts';

export type EventType = 'packet' | 'baseline' | 'membership' | 'model';

export interface ModelEvent {
  id: number;
  modelId: string;
  type: EventType;
  /** For membership events: the person concerned, who receives it even when it removed them. */
  personId: string | null;
  data: Record<string, unknown>;
}

interface EventRow {
  id: number;
  model_id: string;
  type: EventType;
  person_id: string | null;
  data: string;
}

export class EventLog {
  readonly #clock: Clock;
  readonly #bus = new EventEmitter();
  readonly #sql;

  constructor(db: Db, clock: Clock) {
    this.#clock = clock;
    this.#bus.setMaxListeners(0);
    this.#sql = {
      insert: db.prepare('INSERT INTO model_events (model_id, type, person_id, data, created_at) VALUES (?, ?, ?, ?, ?)'),
      after: db.prepare<[number, number], EventRow>('SELECT id, model_id, type, person_id, data FROM model_events WHERE id > ? ORDER BY id LIMIT ?'),
      last: db.prepare<[], { id: number | null }>('SELECT max(id) AS id FROM model_events'),
      oldest: db.prepare<[], { id: number | null }>('SELECT min(id) AS id FROM model_events'),
      firstAfter: db.prepare<[number], { id: number; created_at: string }>('SELECT id, created_at FROM model_events WHERE id > ? ORDER BY id LIMIT 1'),
    };
  }

  /** Records an event; call inside the transaction of the change it announces. */
  append(modelId: string, type: EventType, data: Record<string, unknown>, personId: string | null = null): void {
    this.#sql.insert.run(modelId, type, personId, JSON.stringify({ model_id: modelId, ...data }), this.#clock.now().toISOString());
  }

  /** Events after `id`, oldest first. */
  after(id: number, limit = 500): ModelEvent[] {
    return this.#sql.after.all(id, limit).map((r) => ({ id: r.id, modelId: r.model_id, type: r.type, personId: r.person_id, data: JSON.parse(r.data) as Record<string, unknown> }));
  }

  lastId(): number {
    return this.#sql.last.get()?.id ?? 0;
  }

  /** The oldest event still kept (retention removes older ones); 1 when none was ever removed. */
  oldestId(): number {
    return this.#sql.oldest.get()?.id ?? this.lastId() + 1;
  }

  /** The first event after `id`, with its time, to tell whether a replay from `id` is still possible. */
  firstAfter(id: number): { id: number; createdAt: Date } | undefined {
    const row = this.#sql.firstAfter.get(id);
    return row ? { id: row.id, createdAt: new Date(row.created_at) } : undefined;
  }

  /** Wakes every open stream; call after the commit. */
  notify(): void {
    this.#bus.emit('wake');
  }

  /** `listener` runs at each notify; returns the unsubscribe function. */
  subscribe(listener: () => void): () => void {
    this.#bus.on('wake', listener);
    return () => this.#bus.off('wake', listener);
  }
}
