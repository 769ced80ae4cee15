/**
 * Browser sign-ins in progress, as database rows (as supabase auth keeps its flow state): the state,
 * nonce and PKCE verifier of one trip to the provider, usable once, for a short time, and only by
 * the browser that started it (a login cookie whose hash the row holds).
 */
import crypto from 'node:crypto';
import type { Clock } from '../clock.ts';
import type { Keyring } from '../crypto/keyring.ts';
import { openText, seal } from '../crypto/sealed.ts';
import type { Db } from '../db/open.ts';
import { newChecks } from './oidc.ts';

export interface LoginFlow {
  id: string;
  provider: string;
  state: string;
  nonce: string;
  codeVerifier: string;
  returnTo: string;
}

interface FlowRow {
  id: string;
  browser_hash: Buffer;
  provider: string;
  secrets_sealed: Buffer;
  return_to: string;
  expires_at: string;
  used_at: string | null;
}

export type TakeResult = { ok: true; flow: LoginFlow } | { ok: false; reason: 'unknown_state' | 'replayed' | 'expired' | 'wrong_browser'; flowId?: string };

const hash = (value: string) => crypto.createHash('sha256').update(value, 'utf8').digest();

export class LoginFlows {
  readonly #db: Db;
  readonly #keys: Keyring;
  readonly #clock: Clock;
  readonly #lifetimeMs: number;
  readonly #sql;

  constructor(db: Db, keys: Keyring, clock: Clock, lifetimeMs: number) {
    this.#db = db;
    this.#keys = keys;
    this.#clock = clock;
    this.#lifetimeMs = lifetimeMs;
    this.#sql = {
      insert: db.prepare(
        'INSERT INTO login_flows (id, state_hash, browser_hash, provider, secrets_sealed, return_to, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      byState: db.prepare<[Buffer], FlowRow>('SELECT id, browser_hash, provider, secrets_sealed, return_to, expires_at, used_at FROM login_flows WHERE state_hash = ?'),
      markUsed: db.prepare('UPDATE login_flows SET used_at = ? WHERE id = ? AND used_at IS NULL'),
      purge: db.prepare('DELETE FROM login_flows WHERE expires_at < ?'),
    };
  }

  /** Starts a sign-in; `browserSecret` is the value of the login cookie set with the redirect. */
  start(provider: string, returnTo: string, browserSecret: string): LoginFlow {
    const id = `lf_${crypto.randomBytes(12).toString('hex')}`;
    const flow: LoginFlow = { id, provider, returnTo, ...newChecks() };
    const now = this.#clock.now();
    const secrets = seal(this.#keys, this.#keys.singleton('personal'), { table: 'login_flows', column: 'secrets', row: id }, JSON.stringify({ nonce: flow.nonce, codeVerifier: flow.codeVerifier }));
    this.#sql.purge.run(now.toISOString());
    this.#sql.insert.run(id, hash(flow.state), hash(browserSecret), provider, secrets, returnTo, now.toISOString(), new Date(now.getTime() + this.#lifetimeMs).toISOString());
    return flow;
  }

  /** Takes the flow a callback's `state` names, once; says why when it may not be used. */
  take(state: string, browserSecret: string | undefined): TakeResult {
    return this.#db.transaction((): TakeResult => {
      const row = this.#sql.byState.get(hash(state));
      if (!row) return { ok: false, reason: 'unknown_state' };
      if (row.used_at) return { ok: false, reason: 'replayed', flowId: row.id };
      // Used up whatever happens next: a callback is never accepted twice.
      this.#sql.markUsed.run(this.#clock.now().toISOString(), row.id);
      if (new Date(row.expires_at) <= this.#clock.now()) return { ok: false, reason: 'expired', flowId: row.id };
      if (!browserSecret || !crypto.timingSafeEqual(row.browser_hash, hash(browserSecret))) return { ok: false, reason: 'wrong_browser', flowId: row.id };
      const secrets = JSON.parse(openText(this.#keys, { table: 'login_flows', column: 'secrets', row: row.id }, row.secrets_sealed)) as { nonce: string; codeVerifier: string };
      return { ok: true, flow: { id: row.id, provider: row.provider, state, returnTo: row.return_to, ...secrets } };
    }).immediate();
  }
}
