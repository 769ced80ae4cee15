/**
 * Browser sessions: a random cookie value whose hash is the row's key, with an idle and an absolute
 * end. The CSRF token is derived from the session secret, so it changes with every session and
 * needs no storage of its own.
 */
import crypto from 'node:crypto';
import type { Clock } from '../clock.ts';
import type { Db } from '../db/open.ts';

export interface Session {
  id: string;
  personId: string;
  csrfToken: string;
}

interface SessionRow {
  id: string;
  token_hash: Buffer;
  person_id: string;
  last_seen_at: string;
  expires_at: string;
}

const hash = (value: string) => crypto.createHash('sha256').update(value, 'utf8').digest();
const shape = /^[A-Za-z0-9_-]{43}$/;

/** The CSRF token of a session: an HMAC of a fixed label under the session secret. */
export function csrfTokenOf(sessionSecret: string): string {
  return crypto.createHmac('sha256', sessionSecret).update('modelshare csrf v1').digest('base64url');
}

export class Sessions {
  readonly #clock: Clock;
  readonly #idleMs: number;
  readonly #lifetimeMs: number;
  readonly #sql;

  constructor(db: Db, clock: Clock, lifetimes: { idleMs: number; lifetimeMs: number }) {
    this.#clock = clock;
    this.#idleMs = lifetimes.idleMs;
    this.#lifetimeMs = lifetimes.lifetimeMs;
    this.#sql = {
      insert: db.prepare('INSERT INTO sessions (id, token_hash, person_id, provider, created_at, last_seen_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      byId: db.prepare<[string], { expires_at: string }>('SELECT expires_at FROM sessions WHERE id = ?'),
      byHash: db.prepare<[Buffer], SessionRow>('SELECT id, token_hash, person_id, last_seen_at, expires_at FROM sessions WHERE token_hash = ?'),
      touch: db.prepare('UPDATE sessions SET last_seen_at = ? WHERE id = ?'),
      delete: db.prepare('DELETE FROM sessions WHERE id = ?'),
      deleteForPerson: db.prepare('DELETE FROM sessions WHERE person_id = ?'),
      ofPerson: db.prepare<[string], { id: string; provider: string; created_at: string; last_seen_at: string; expires_at: string }>(
        'SELECT id, provider, created_at, last_seen_at, expires_at FROM sessions WHERE person_id = ? ORDER BY created_at',
      ),
    };
  }

  /** A new session (a fresh secret at every sign-in, so a planted cookie never becomes signed in). */
  create(personId: string, provider: string): { secret: string; session: Session; expiresAt: Date } {
    const secret = crypto.randomBytes(32).toString('base64url');
    const id = `s_${crypto.randomBytes(12).toString('hex')}`;
    const now = this.#clock.now();
    const expiresAt = new Date(now.getTime() + this.#lifetimeMs);
    this.#sql.insert.run(id, hash(secret), personId, provider, now.toISOString(), now.toISOString(), expiresAt.toISOString());
    return { secret, session: { id, personId, csrfToken: csrfTokenOf(secret) }, expiresAt };
  }

  /** The live session of a cookie value; an idle or expired one is deleted and not returned. */
  find(secret: string): Session | undefined {
    if (!shape.test(secret)) return undefined;
    const digest = hash(secret);
    const row = this.#sql.byHash.get(digest);
    if (!row || !crypto.timingSafeEqual(row.token_hash, digest)) return undefined;
    const now = this.#clock.now().getTime();
    if (now >= new Date(row.expires_at).getTime() || now - new Date(row.last_seen_at).getTime() >= this.#idleMs) {
      this.#sql.delete.run(row.id);
      return undefined;
    }
    // Recorded at most once a minute: the idle end does not need more precision than that.
    if (now - new Date(row.last_seen_at).getTime() > 60_000) this.#sql.touch.run(new Date(now).toISOString(), row.id);
    return { id: row.id, personId: row.person_id, csrfToken: csrfTokenOf(secret) };
  }

  /** Whether the session still exists and has not reached its absolute end. */
  live(sessionId: string): boolean {
    const row = this.#sql.byId.get(sessionId);
    return !!row && this.#clock.now() < new Date(row.expires_at);
  }

  end(sessionId: string): void {
    this.#sql.delete.run(sessionId);
  }

  /** The person's browser sessions, for their export. */
  listFor(personId: string) {
    return this.#sql.ofPerson.all(personId);
  }

  /** Erase: every session of the person ends. */
  removePerson(personId: string): void {
    this.#sql.deleteForPerson.run(personId);
  }
}
