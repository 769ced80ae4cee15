/**
 * People: created or updated at each sign-in from the provider's claims. Issuer + subject is the
 * identity; the e-mail address and the name are sealed, and the address has a blind index so that
 * invitations and admin lists can find a person by it.
 */
import crypto from 'node:crypto';
import type { Clock } from '../clock.ts';
import type { Keyring } from '../crypto/keyring.ts';
import { blindIndex, openText, seal } from '../crypto/sealed.ts';
import type { Db } from '../db/open.ts';

export interface Person {
  id: string;
  email: string | null;
  emailVerified: boolean;
  name: string | null;
  serverAdmin: boolean;
  createdAt: string;
  lastSignInAt: string | null;
  /** Set once a server admin erased the person: the row stays, without personal data, so packets keep their author. */
  erasedAt: string | null;
  /** Set while a server admin blocks the person server-wide: no sign-in, no session, no token works. */
  blockedAt: string | null;
}

interface PersonRow {
  id: string;
  email_sealed: Buffer | null;
  email_verified: number;
  name_sealed: Buffer | null;
  server_admin: number;
  created_at: string;
  last_sign_in_at: string | null;
  erased_at: string | null;
  blocked_at: string | null;
}

export interface SignInClaims {
  issuer: string;
  subject: string;
  email: string | null;
  emailVerified: boolean;
  name: string | null;
  serverAdmin: boolean;
}

/** E-mail addresses are compared lower-cased and trimmed, as providers and people write them differently. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/**
 * The keyed blind index of an e-mail address: the one way every table (people, invitations) finds a
 * sealed address by equality, so the index of one place always matches the others'.
 */
export function emailIndex(keys: Keyring, email: string): Buffer {
  return blindIndex(keys, keys.singleton('personal'), 'people.email', normalizeEmail(email));
}

const openedLimit = 10_000;

function sameBytes(a: Buffer | null, b: Buffer | null): boolean {
  return a === null || b === null ? a === b : a.equals(b);
}

export class People {
  readonly #db: Db;
  readonly #keys: Keyring;
  readonly #clock: Clock;
  readonly #keyId: string;
  readonly #sql;
  readonly #openedById = new Map<string, { emailSealed: Buffer | null; nameSealed: Buffer | null; email: string | null; name: string | null }>();

  constructor(db: Db, keys: Keyring, clock: Clock) {
    this.#db = db;
    this.#keys = keys;
    this.#clock = clock;
    this.#keyId = keys.singleton('personal');
    const columns = 'id, email_sealed, email_verified, name_sealed, server_admin, created_at, last_sign_in_at, erased_at, blocked_at';
    this.#sql = {
      byId: db.prepare<[string], PersonRow>(`SELECT ${columns} FROM people WHERE id = ?`),
      byIdentity: db.prepare<[Buffer], PersonRow>(`SELECT ${columns} FROM people WHERE identity_index = ?`),
      byEmail: db.prepare<[Buffer], PersonRow>(`SELECT ${columns} FROM people WHERE email_index = ? ORDER BY email_verified DESC, created_at LIMIT 1`),
      insert: db.prepare(
        `INSERT INTO people (id, identity_index, identity_sealed, email_index, email_sealed, email_verified, name_sealed, server_admin, created_at, last_sign_in_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      update: db.prepare(
        'UPDATE people SET email_index = ?, email_sealed = ?, email_verified = ?, name_sealed = ?, server_admin = ?, last_sign_in_at = ? WHERE id = ?',
      ),
      // The provider identity is replaced by random bytes: signing in again makes a new person.
      erase: db.prepare(
        `UPDATE people SET identity_index = randomblob(32), identity_sealed = X'', email_index = NULL, email_sealed = NULL, email_verified = 0,
         name_sealed = NULL, server_admin = 0, last_sign_in_at = NULL, erased_at = ? WHERE id = ? AND erased_at IS NULL`,
      ),
      identity: db.prepare<[string], { identity_sealed: Buffer }>('SELECT identity_sealed FROM people WHERE id = ? AND erased_at IS NULL'),
      setBlocked: db.prepare('UPDATE people SET blocked_at = ?, blocked_by = ? WHERE id = ? AND (blocked_at IS NULL) = (? IS NOT NULL)'),
    };
  }

  /**
   * Every authenticated request reads its person, and opening the sealed e-mail and name was a
   * tenth of a write-out's time. Opened values are kept per person for as long as the row still
   * holds the very same sealed bytes (which open to the same plaintext every time): a changed,
   * erased or restored row, by this process or another, is opened again.
   */
  #opened(row: PersonRow): { email: string | null; name: string | null } {
    const known = this.#openedById.get(row.id);
    if (known && sameBytes(known.emailSealed, row.email_sealed) && sameBytes(known.nameSealed, row.name_sealed)) return known;
    const place = (column: string) => ({ table: 'people', column, row: row.id });
    const opened = {
      emailSealed: row.email_sealed,
      nameSealed: row.name_sealed,
      email: row.email_sealed ? openText(this.#keys, place('email'), row.email_sealed) : null,
      name: row.name_sealed ? openText(this.#keys, place('name'), row.name_sealed) : null,
    };
    this.#openedById.delete(row.id);
    // Bounded: the oldest entry goes first.
    if (this.#openedById.size >= openedLimit) this.#openedById.delete(this.#openedById.keys().next().value!);
    this.#openedById.set(row.id, opened);
    return opened;
  }

  #open(row: PersonRow): Person {
    const { email, name } = this.#opened(row);
    return {
      id: row.id,
      email,
      emailVerified: row.email_verified === 1,
      name,
      serverAdmin: row.server_admin === 1,
      createdAt: row.created_at,
      lastSignInAt: row.last_sign_in_at,
      erasedAt: row.erased_at,
      blockedAt: row.blocked_at,
    };
  }

  #emailIndex(email: string): Buffer {
    return emailIndex(this.#keys, email);
  }

  /** Creates or updates the person a provider vouches for, as of this sign-in. */
  signIn(claims: SignInClaims): Person {
    const identityIndex = blindIndex(this.#keys, this.#keyId, 'people.identity', `${claims.issuer}\0${claims.subject}`);
    const now = this.#clock.now().toISOString();
    return this.#db.transaction(() => {
      const existing = this.#sql.byIdentity.get(identityIndex);
      const id = existing?.id ?? `p_${crypto.randomBytes(12).toString('hex')}`;
      const place = (column: string) => ({ table: 'people', column, row: id });
      const email = claims.email ? normalizeEmail(claims.email) : null;
      const emailIndex = email ? this.#emailIndex(email) : null;
      const emailSealed = email ? seal(this.#keys, this.#keyId, place('email'), email) : null;
      const nameSealed = claims.name ? seal(this.#keys, this.#keyId, place('name'), claims.name) : null;
      const verified = claims.emailVerified && email ? 1 : 0;
      if (existing) {
        this.#sql.update.run(emailIndex, emailSealed, verified, nameSealed, claims.serverAdmin ? 1 : 0, now, id);
      } else {
        const identity = seal(this.#keys, this.#keyId, place('identity'), JSON.stringify({ issuer: claims.issuer, subject: claims.subject }));
        this.#sql.insert.run(id, identityIndex, identity, emailIndex, emailSealed, verified, nameSealed, claims.serverAdmin ? 1 : 0, now, now);
      }
      return this.#open(this.#sql.byId.get(id)!);
    }).immediate();
  }

  get(id: string): Person | undefined {
    const row = this.#sql.byId.get(id);
    return row ? this.#open(row) : undefined;
  }

  findByEmail(email: string): Person | undefined {
    const row = this.#sql.byEmail.get(this.#emailIndex(email));
    return row ? this.#open(row) : undefined;
  }

  /** The issuer of the provider that vouches for the person (`urn:modelshare:break-glass` for break-glass admins). */
  issuerOf(id: string): string | null {
    const row = this.#sql.identity.get(id);
    if (!row) return null;
    return (JSON.parse(openText(this.#keys, { table: 'people', column: 'identity', row: id }, row.identity_sealed)) as { issuer: string }).issuer;
  }

  /** Blocks (`by` a server admin) or unblocks the person server-wide; false when that was already so. */
  setBlocked(id: string, by: string | null): boolean {
    const at = by === null ? null : this.#clock.now().toISOString();
    return this.#sql.setBlocked.run(at, by, id, at).changes === 1;
  }

  /** Removes every personal value of the person and keeps the row as a tombstone; false if already erased. */
  erase(id: string): boolean {
    return this.#sql.erase.run(this.#clock.now().toISOString(), id).changes === 1;
  }
}
