/**
 * Bearer tokens: the access and refresh tokens of desktop logins, personal access tokens, and the
 * break-glass admin token. A token is 32 random bytes with a prefix that says its kind; only its
 * SHA-256 is stored. A desktop login is the family of tokens one device approval started: refresh
 * tokens rotate, and presenting one that was already exchanged revokes the whole family.
 */
import crypto from 'node:crypto';
import type { Clock } from '../clock.ts';
import type { Keyring } from '../crypto/keyring.ts';
import { openText, seal } from '../crypto/sealed.ts';
import type { Db } from '../db/open.ts';

export type Scope = 'read' | 'write' | 'admin';
export const allScopes: readonly Scope[] = ['read', 'write', 'admin'];
type Kind = 'access' | 'refresh' | 'personal' | 'break_glass';
const prefixes: Record<Kind, string> = { access: 'msa', refresh: 'msr', personal: 'msp', break_glass: 'msb' };

/** Who a valid bearer token speaks for. */
export interface TokenGrant {
  personId: string;
  tokenId: string;
  kind: Kind;
  scopes: Scope[];
  loginId: string | null;
}

export interface IssuedTokens {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  refresh_token: string;
}

export interface PersonalToken {
  id: string;
  name: string;
  scopes: Scope[];
  created_at: string;
  expires_at: string;
  last_used_at: string | null;
}

interface TokenRow {
  id: string;
  hash: Buffer;
  kind: Kind;
  person_id: string;
  login_id: string | null;
  name_sealed: Buffer | null;
  scopes: string;
  created_at: string;
  expires_at: string;
  rotated_at: string | null;
  last_used_at: string | null;
  revoked_at: string | null;
  login_revoked_at: string | null;
}

export interface TokenLifetimes {
  accessMs: number;
  refreshMs: number;
  breakGlassMs: number;
}

export type RefreshResult =
  | { ok: true; tokens: IssuedTokens; personId: string; loginId: string }
  | { ok: false; reason: 'unknown' | 'expired' | 'revoked' }
  | { ok: false; reason: 'reused'; personId: string; loginId: string };

const hashToken = (token: string) => crypto.createHash('sha256').update(token, 'utf8').digest();
const newToken = (kind: Kind) => `${prefixes[kind]}_${crypto.randomBytes(32).toString('base64url')}`;
const newId = (prefix: string) => `${prefix}_${crypto.randomBytes(12).toString('hex')}`;
/** The shape every token has; anything else is refused before touching the database. */
const tokenShape = /^ms[arpb]_[A-Za-z0-9_-]{43}$/;

export class Tokens {
  readonly #db: Db;
  readonly #keys: Keyring;
  readonly #clock: Clock;
  readonly #lifetimes: TokenLifetimes;
  readonly #keyId: string;
  readonly #sql;

  constructor(db: Db, keys: Keyring, clock: Clock, lifetimes: TokenLifetimes) {
    this.#db = db;
    this.#keys = keys;
    this.#clock = clock;
    this.#lifetimes = lifetimes;
    this.#keyId = keys.singleton('personal');
    this.#sql = {
      byHash: db.prepare<[Buffer], TokenRow>(
        'SELECT t.*, l.revoked_at AS login_revoked_at FROM tokens t LEFT JOIN logins l ON l.id = t.login_id WHERE t.hash = ?',
      ),
      insert: db.prepare(
        'INSERT INTO tokens (id, hash, kind, person_id, login_id, name_sealed, scopes, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      insertLogin: db.prepare('INSERT INTO logins (id, person_id, client_name_sealed, created_at) VALUES (?, ?, ?, ?)'),
      markRotated: db.prepare('UPDATE tokens SET rotated_at = ? WHERE id = ? AND rotated_at IS NULL'),
      touch: db.prepare('UPDATE tokens SET last_used_at = ? WHERE id = ?'),
      revokeLogin: db.prepare('UPDATE logins SET revoked_at = ?, revoked_reason = ? WHERE id = ? AND revoked_at IS NULL'),
      revokeLoginTokens: db.prepare('UPDATE tokens SET revoked_at = ? WHERE login_id = ? AND revoked_at IS NULL'),
      revokeToken: db.prepare('UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL'),
      liveById: db.prepare<[string], { expires_at: string; revoked_at: string | null; login_revoked_at: string | null }>(
        'SELECT t.expires_at, t.revoked_at, l.revoked_at AS login_revoked_at FROM tokens t LEFT JOIN logins l ON l.id = t.login_id WHERE t.id = ?',
      ),
      listPersonal: db.prepare<[string], TokenRow>(
        "SELECT t.*, NULL AS login_revoked_at FROM tokens t WHERE person_id = ? AND kind = 'personal' AND revoked_at IS NULL ORDER BY created_at",
      ),
      deleteTokensOf: db.prepare('DELETE FROM tokens WHERE person_id = ?'),
      loginsOf: db.prepare<[string], { id: string; client_name_sealed: Buffer; created_at: string; revoked_at: string | null }>(
        'SELECT id, client_name_sealed, created_at, revoked_at FROM logins WHERE person_id = ? ORDER BY created_at',
      ),
      deleteLoginsOf: db.prepare('DELETE FROM logins WHERE person_id = ?'),
      revokeAllLogins: db.prepare("UPDATE logins SET revoked_at = ?, revoked_reason = ? WHERE person_id = ? AND revoked_at IS NULL"),
      revokeAllTokens: db.prepare('UPDATE tokens SET revoked_at = ? WHERE person_id = ? AND revoked_at IS NULL'),
      ofPerson: db.prepare<[string], TokenRow>(
        "SELECT t.*, l.revoked_at AS login_revoked_at FROM tokens t LEFT JOIN logins l ON l.id = t.login_id WHERE t.person_id = ? AND t.kind != 'refresh' ORDER BY t.created_at, t.id",
      ),
      revokePersonal: db.prepare("UPDATE tokens SET revoked_at = ? WHERE id = ? AND person_id = ? AND kind = 'personal' AND revoked_at IS NULL"),
    };
  }

  /** Finds a token's row; the lookup is by hash, and the hash is compared again in constant time. */
  #find(token: string): TokenRow | undefined {
    if (!tokenShape.test(token)) return undefined;
    const hash = hashToken(token);
    const row = this.#sql.byHash.get(hash);
    return row && crypto.timingSafeEqual(row.hash, hash) ? row : undefined;
  }

  #insert(kind: Kind, personId: string, loginId: string | null, scopes: readonly Scope[], lifetimeMs: number, nameSealed: Buffer | null = null, id = newId('tok')) {
    const token = newToken(kind);
    const now = this.#clock.now();
    const expiresAt = new Date(now.getTime() + lifetimeMs);
    this.#sql.insert.run(id, hashToken(token), kind, personId, loginId, nameSealed, scopes.join(' '), now.toISOString(), expiresAt.toISOString());
    return { id, token, expiresAt };
  }

  #pair(personId: string, loginId: string): IssuedTokens {
    const access = this.#insert('access', personId, loginId, allScopes, this.#lifetimes.accessMs);
    const refresh = this.#insert('refresh', personId, loginId, allScopes, this.#lifetimes.refreshMs);
    return { access_token: access.token, token_type: 'Bearer', expires_in: Math.floor(this.#lifetimes.accessMs / 1000), refresh_token: refresh.token };
  }

  /** Starts a desktop login for an approved device request: its first access and refresh token. */
  startLogin(personId: string, clientName: string): { loginId: string; tokens: IssuedTokens } {
    const loginId = newId('login');
    const name = seal(this.#keys, this.#keyId, { table: 'logins', column: 'client_name', row: loginId }, clientName);
    this.#sql.insertLogin.run(loginId, personId, name, this.#clock.now().toISOString());
    return { loginId, tokens: this.#pair(personId, loginId) };
  }

  /** Exchanges a refresh token for a new pair. A second exchange of the same token revokes the login. */
  refresh(refreshToken: string): RefreshResult {
    return this.#db.transaction((): RefreshResult => {
      const row = this.#find(refreshToken);
      if (!row || row.kind !== 'refresh' || !row.login_id) return { ok: false, reason: 'unknown' };
      if (row.revoked_at || row.login_revoked_at) return { ok: false, reason: 'revoked' };
      if (row.rotated_at) {
        this.#revokeLogin(row.login_id, 'refresh_token_reuse');
        return { ok: false, reason: 'reused', personId: row.person_id, loginId: row.login_id };
      }
      if (new Date(row.expires_at) <= this.#clock.now()) return { ok: false, reason: 'expired' };
      this.#sql.markRotated.run(this.#clock.now().toISOString(), row.id);
      return { ok: true, tokens: this.#pair(row.person_id, row.login_id), personId: row.person_id, loginId: row.login_id };
    }).immediate();
  }

  /** Ends one desktop login and every token of it. */
  revokeLogin(loginId: string, reason: string): void {
    this.#revokeLogin(loginId, reason);
  }

  /**
   * Signs the person out of every desktop login and revokes every token they hold (personal and
   * break-glass too), at once: the next request with any of them is refused. Returns how many.
   */
  revokeAllOf(personId: string, reason: string): { logins: number; tokens: number } {
    const now = this.#clock.now().toISOString();
    return this.#db.transaction(() => ({
      logins: this.#sql.revokeAllLogins.run(now, reason, personId).changes,
      tokens: this.#sql.revokeAllTokens.run(now, personId).changes,
    })).immediate();
  }

  /** Every access, personal and break-glass token of the person, for admins: ids, kinds and times, never a secret. */
  listAllOf(personId: string) {
    const now = this.#clock.now();
    return this.#sql.ofPerson.all(personId).map((r) => ({
      id: r.id,
      kind: r.kind,
      login_id: r.login_id,
      name: r.name_sealed ? openText(this.#keys, { table: 'tokens', column: 'name', row: r.id }, r.name_sealed) : null,
      scopes: r.scopes.split(' ') as Scope[],
      created_at: r.created_at,
      expires_at: r.expires_at,
      last_used_at: r.last_used_at,
      revoked_at: r.revoked_at ?? r.login_revoked_at,
      live: !r.revoked_at && !r.login_revoked_at && new Date(r.expires_at) > now,
    }));
  }

  #revokeLogin(loginId: string, reason: string): void {
    const now = this.#clock.now().toISOString();
    this.#sql.revokeLogin.run(now, reason, loginId);
    this.#sql.revokeLoginTokens.run(now, loginId);
  }

  /** The grant behind a bearer token (access, personal or break-glass), or undefined if it is not valid now. */
  authenticate(token: string): TokenGrant | undefined {
    const row = this.#find(token);
    if (!row || row.kind === 'refresh' || row.revoked_at || row.login_revoked_at) return undefined;
    const now = this.#clock.now();
    if (new Date(row.expires_at) <= now) return undefined;
    // Recorded at most hourly: a write (and fsync) on every request would cost more than it tells.
    if (!row.last_used_at || now.getTime() - new Date(row.last_used_at).getTime() > 3_600_000) this.#sql.touch.run(now.toISOString(), row.id);
    return { personId: row.person_id, tokenId: row.id, kind: row.kind, scopes: row.scopes.split(' ') as Scope[], loginId: row.login_id };
  }

  /** Whether the token is still unrevoked and unexpired (an open event stream asks every few seconds). */
  live(tokenId: string): boolean {
    const row = this.#sql.liveById.get(tokenId);
    return !!row && !row.revoked_at && !row.login_revoked_at && new Date(row.expires_at) > this.#clock.now();
  }

  /**
   * RFC 7009 revocation: an access or refresh token ends its whole desktop login; a personal or
   * break-glass token ends itself. Returns what was revoked, or undefined for an unknown token.
   */
  revoke(token: string): { personId: string; loginId: string | null; tokenId: string } | undefined {
    return this.#db.transaction(() => {
      const row = this.#find(token);
      if (!row) return undefined;
      if (row.login_id) this.#revokeLogin(row.login_id, 'revoked');
      else this.#sql.revokeToken.run(this.#clock.now().toISOString(), row.id);
      return { personId: row.person_id, loginId: row.login_id, tokenId: row.id };
    }).immediate();
  }

  /** A named personal access token; the token itself is returned once and never stored. */
  createPersonal(personId: string, name: string, scopes: Scope[], lifetimeMs: number): PersonalToken & { token: string } {
    const id = newId('pat');
    const sealed = seal(this.#keys, this.#keyId, { table: 'tokens', column: 'name', row: id }, name);
    const { token } = this.#insert('personal', personId, null, scopes, lifetimeMs, sealed, id);
    return { ...this.#presentPersonal(this.#find(token)!), token };
  }

  #presentPersonal(row: TokenRow): PersonalToken {
    return {
      id: row.id,
      name: openText(this.#keys, { table: 'tokens', column: 'name', row: row.id }, row.name_sealed!),
      scopes: row.scopes.split(' ') as Scope[],
      created_at: row.created_at,
      expires_at: row.expires_at,
      last_used_at: row.last_used_at,
    };
  }

  listPersonal(personId: string): PersonalToken[] {
    const now = this.#clock.now();
    return this.#sql.listPersonal.all(personId).filter((r) => new Date(r.expires_at) > now).map((r) => this.#presentPersonal(r));
  }

  /** Revokes one of the owner's personal tokens; false when it is not theirs or not there. */
  revokePersonal(personId: string, tokenId: string): boolean {
    return this.#sql.revokePersonal.run(this.#clock.now().toISOString(), tokenId, personId).changes === 1;
  }

  /** The person's desktop logins with the client names, for their export. */
  listLogins(personId: string) {
    return this.#sql.loginsOf.all(personId).map((r) => ({
      id: r.id,
      client_name: openText(this.#keys, { table: 'logins', column: 'client_name', row: r.id }, r.client_name_sealed),
      created_at: r.created_at,
      revoked_at: r.revoked_at,
    }));
  }

  /** Erase: every token and desktop login of the person goes (so every one of them stops working). */
  removePerson(personId: string): void {
    this.#db.transaction(() => {
      this.#sql.deleteTokensOf.run(personId);
      this.#sql.deleteLoginsOf.run(personId);
    }).immediate();
  }

  /** A short-lived admin token for when the provider is down (`modelshare admin token`). */
  createBreakGlass(personId: string): { token: string; tokenId: string; expiresAt: Date } {
    const { id, token, expiresAt } = this.#insert('break_glass', personId, null, allScopes, this.#lifetimes.breakGlassMs);
    return { token, tokenId: id, expiresAt };
  }
}
