/**
 * The audit log: one row for every security-relevant action, whether it was allowed, denied or
 * failed. What and when are plain columns so admins can filter; who (e-mail) and from where (address)
 * are personal data and sealed.
 */
import crypto from 'node:crypto';
import type { Clock } from '../clock.ts';
import type { Keyring } from '../crypto/keyring.ts';
import { openText, seal } from '../crypto/sealed.ts';
import type { Db } from '../db/open.ts';

export type AuditOutcome = 'allowed' | 'denied' | 'failed';

export interface AuditEntry {
  action: string;
  outcome: AuditOutcome;
  /** The person who acted, if known. */
  actor?: { id: string; email?: string | undefined } | undefined;
  target?: { type: string; id: string } | undefined;
  /** A stable code saying why, e.g. `state_mismatch`; never personal data. */
  reason?: string | undefined;
  /** The client address. */
  source?: string | undefined;
  /** More context, sealed with the rest of the personal data. */
  details?: Record<string, unknown> | undefined;
}

export interface AuditEvent extends Omit<AuditEntry, 'actor'> {
  id: string;
  at: string;
  actor_id: string | null;
  actor_email: string | null;
}

interface AuditRow {
  id: string;
  at: string;
  action: string;
  outcome: AuditOutcome;
  actor_id: string | null;
  target_type: string | null;
  target_id: string | null;
  reason: string | null;
  details_sealed: Buffer | null;
}

export class AuditService {
  readonly #keys: Keyring;
  readonly #clock: Clock;
  readonly #sql;

  constructor(db: Db, keys: Keyring, clock: Clock) {
    this.#keys = keys;
    this.#clock = clock;
    this.#sql = {
      insert: db.prepare(
        'INSERT INTO audit_events (id, at, action, outcome, actor_id, target_type, target_id, reason, details_sealed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      recent: db.prepare<[string, number], AuditRow>('SELECT * FROM audit_events WHERE at >= ? ORDER BY at DESC, id LIMIT ?'),
      byActor: db.prepare<[string, number], AuditRow>('SELECT * FROM audit_events WHERE actor_id = ? ORDER BY at DESC, id LIMIT ?'),
      byId: db.prepare<[string], AuditRow>('SELECT * FROM audit_events WHERE id = ?'),
      forgetActor: db.prepare('UPDATE audit_events SET details_sealed = NULL WHERE actor_id = ? AND details_sealed IS NOT NULL'),
      forgetTarget: db.prepare('UPDATE audit_events SET details_sealed = NULL WHERE target_id = ? AND details_sealed IS NOT NULL'),
    };
  }

  record(entry: AuditEntry): void {
    const id = crypto.randomBytes(12).toString('hex');
    const details = { actor_email: entry.actor?.email, source: entry.source, ...entry.details };
    const sealed = seal(this.#keys, this.#keys.singleton('personal'), { table: 'audit_events', column: 'details', row: id }, JSON.stringify(details));
    this.#sql.insert.run(
      id,
      this.#clock.now().toISOString(),
      entry.action,
      entry.outcome,
      entry.actor?.id ?? null,
      entry.target?.type ?? null,
      entry.target?.id ?? null,
      entry.reason ?? null,
      sealed,
    );
  }

  /**
   * Erase: the events the person did, and those about them or about `targetIds` (their invitations),
   * keep what happened and the ids but lose their sealed details (addresses, e-mails, sources).
   */
  forget(personId: string, targetIds: readonly string[] = []): void {
    this.#sql.forgetActor.run(personId);
    for (const id of [personId, ...targetIds]) this.#sql.forgetTarget.run(id);
  }

  /** The newest events since `since`, opened; for admins (and tests). */
  recent(since: Date, limit = 200): AuditEvent[] {
    return this.#sql.recent.all(since.toISOString(), limit).map((row) => this.#open(row));
  }

  /** The newest events the person did, opened; for their export. */
  byActor(personId: string, limit = 10_000): AuditEvent[] {
    return this.#sql.byActor.all(personId, limit).map((row) => this.#open(row));
  }

  /** The events of `ids` (found by a filtered query elsewhere), opened, in the order given. */
  byIds(ids: readonly string[]): AuditEvent[] {
    return ids.flatMap((id) => {
      const row = this.#sql.byId.get(id);
      return row ? [this.#open(row)] : [];
    });
  }

  #open(row: AuditRow): AuditEvent {
    const details = row.details_sealed
      ? (JSON.parse(openText(this.#keys, { table: 'audit_events', column: 'details', row: row.id }, row.details_sealed)) as Record<string, unknown>)
      : {};
    const { actor_email, source, ...rest } = details as { actor_email?: string; source?: string };
    return {
      id: row.id,
      at: row.at,
      action: row.action,
      outcome: row.outcome,
      actor_id: row.actor_id,
      actor_email: actor_email ?? null,
      target: row.target_type && row.target_id ? { type: row.target_type, id: row.target_id } : undefined,
      reason: row.reason ?? undefined,
      source,
      details: rest,
    };
  }
}
