/**
 * The OpenID Connect relying party, on openid-client (the only file that imports it). Providers are
 * discovered at start and, while one cannot be reached, again with a growing delay; meanwhile its
 * sign-ins answer 503 and everything already signed in keeps working. openid-client checks the ID
 * token: signature against the provider's keys, issuer, audience, expiry, nonce; PKCE and state.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import tls from 'node:tls';
import * as client from 'openid-client';
import type * as Undici from 'undici';
import type { Agent } from 'undici';
import { AppError } from '../errors.ts';
import type { Log } from '../log.ts';

export interface ProviderSettings {
  id: string;
  name: string;
  issuer: string;
  clientId: string;
  clientSecret?: string | undefined;
  scopes: string[];
  /** PEM of a CA to trust for this provider, beside the system's. */
  ca?: string | undefined;
  emailVerified: 'claim' | 'always' | 'never';
  adminGroups: string[];
  claims: { email: string; email_verified: string; name: string; groups: string };
}

/** What a successful sign-in tells us about the person. */
export interface ProviderIdentity {
  issuer: string;
  subject: string;
  email: string | null;
  emailVerified: boolean;
  name: string | null;
  groups: string[];
}

/** What a provider answered when asked again, with a refresh token it issued, whether it still vouches for the person. */
export type Recheck = { status: 'vouched'; identity: ProviderIdentity; refreshToken: string | null } | { status: 'refused'; reason: string };

/** A sign-in the provider's answer did not prove; `reason` is a stable code for the audit log. */
export class SignInFailure extends Error {
  constructor(readonly reason: string, message: string) {
    super(message);
    this.name = 'SignInFailure';
  }
}

const require = createRequire(import.meta.url);
let loadedUndici: typeof Undici | undefined;
/**
 * undici (the HTTP client that can trust a provider's own CA), loaded when a provider is configured:
 * a server without one never loads it (about 20 MiB of resident memory at rest).
 */
const undici = (): typeof Undici => (loadedUndici ??= require('undici') as typeof Undici);

interface ProviderState {
  settings: ProviderSettings;
  config?: client.Configuration;
  timer?: NodeJS.Timeout;
  attempts: number;
  /** The agent trusting the provider's `ca`, when it has one. */
  agent?: Agent | undefined;
  /** False while the background check cannot reach a provider that was discovered earlier. */
  reachable: boolean;
}

/** A stable audit reason from openid-client's error (its code, and the claim its cause chain names). */
function reasonOf(error: unknown): string {
  let code: string | undefined;
  let claim: string | undefined;
  let alg: string | undefined;
  let message = '';
  for (let e = error as { code?: string; message?: string; claim?: string; alg?: string; header?: { alg?: string }; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    code ??= e.code;
    claim ??= e.claim;
    alg ??= e.header?.alg ?? e.alg;
    message += ` ${e.message ?? ''}`;
  }
  // alg "none", or HS256 signed with the client secret: never what the provider's metadata promised.
  if (/JWS "alg"|"alg" header/.test(message)) return alg === 'none' ? 'id_token_alg_none' : 'id_token_alg_unexpected';
  const missing = /JWT "(\w+)" \([^)]*\) claim missing/.exec(message);
  if (missing) return `id_token_${missing[1]}_missing`;
  if (code === 'OAUTH_JWT_CLAIM_COMPARISON_FAILED') return `id_token_${claim ?? 'claim'}_mismatch`;
  if (code === 'OAUTH_JWT_TIMESTAMP_CHECK_FAILED') return 'id_token_expired';
  if (code === 'OAUTH_KEY_SELECTION_FAILED' || /signature verification failed/.test(message)) return 'id_token_signature_invalid';
  if (code === 'OAUTH_AUTHORIZATION_RESPONSE_ERROR') return 'provider_refused';
  if (/"state"/.test(message)) return 'state_mismatch';
  return 'token_exchange_failed';
}

/** What the ID token checks need beyond openid-client's: the time, and how far clocks may differ. */
export interface IdTokenChecks {
  now(): Date;
  clockSkewMs: number;
}

export class OidcProviders {
  readonly #providers = new Map<string, ProviderState>();
  readonly #redirectUri: string;
  readonly #log: Log;
  readonly #checks: IdTokenChecks;
  readonly #checkIntervalMs: number;
  #checkTimer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(providers: ProviderSettings[], redirectUri: string, log: Log, checks: IdTokenChecks, checkIntervalMs = 30_000) {
    for (const settings of providers) {
      const agent = settings.ca ? new (undici().Agent)({ connect: { ca: [settings.ca, ...tls.rootCertificates] } }) : undefined;
      this.#providers.set(settings.id, { settings, attempts: 0, agent, reachable: true });
    }
    this.#redirectUri = redirectUri;
    this.#log = log;
    this.#checks = checks;
    this.#checkIntervalMs = checkIntervalMs;
  }

  /** Starts discovery of every provider (failures are retried) and the background reachability check. */
  start(): void {
    for (const state of this.#providers.values()) void this.#discover(state);
    const tick = async () => {
      await Promise.all([...this.#providers.values()].map((state) => this.#check(state)));
      if (this.#stopped) return;
      this.#checkTimer = setTimeout(() => void tick(), this.#checkIntervalMs);
      this.#checkTimer.unref();
    };
    this.#checkTimer = setTimeout(() => void tick(), this.#checkIntervalMs);
    this.#checkTimer.unref();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#checkTimer);
    for (const state of this.#providers.values()) clearTimeout(state.timer);
  }

  /**
   * Asks a discovered provider for its discovery document, so a provider that went down after the
   * start is known before a browser is sent to it. Any answer below 500 counts as reachable.
   */
  async #check(state: ProviderState): Promise<void> {
    if (!state.config || this.#stopped) return;
    const { settings } = state;
    let reachable: boolean;
    try {
      const url = new URL(`${settings.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`);
      const res = await undici().fetch(url, { signal: AbortSignal.timeout(Math.min(10_000, Math.max(1000, this.#checkIntervalMs))), ...(state.agent ? { dispatcher: state.agent } : {}) });
      await res.body?.cancel();
      reachable = res.status < 500;
    } catch {
      reachable = false;
    }
    if (reachable === state.reachable) return;
    state.reachable = reachable;
    if (reachable) this.#log.info({ provider: settings.id, issuer: settings.issuer }, 'sign-in provider reachable again');
    else this.#log.error({ provider: settings.id, issuer: settings.issuer }, 'sign-in provider cannot be reached; its sign-ins answer 503 until it can');
  }

  async #discover(state: ProviderState): Promise<void> {
    const { settings } = state;
    try {
      const agent = state.agent;
      const options: client.DiscoveryRequestOptions = {
        // The ID token's signature is checked too, not only trusted because TLS brought it.
        execute: [client.enableNonRepudiationChecks],
        [client.customFetch]: (url: string, init: RequestInit) =>
          undici().fetch(url, { ...(init as object), ...(agent ? { dispatcher: agent } : {}) } as Parameters<typeof Undici.fetch>[1]) as unknown as Promise<Response>,
      } as client.DiscoveryRequestOptions;
      const config = await client.discovery(new URL(settings.issuer), settings.clientId, { redirect_uris: [this.#redirectUri] }, settings.clientSecret ? client.ClientSecretBasic(settings.clientSecret) : client.None(), options);
      state.config = config;
      state.attempts = 0;
      this.#log.info({ provider: settings.id, issuer: settings.issuer }, 'sign-in provider ready');
    } catch (error) {
      if (this.#stopped) return;
      state.attempts++;
      const delay = Math.min(300_000, 1000 * 2 ** Math.min(state.attempts, 9));
      this.#log.error(
        { provider: settings.id, issuer: settings.issuer, error: (error as Error).message, retry_in_ms: delay },
        'sign-in provider cannot be reached; sign-ins through it answer 503 until it can',
      );
      state.timer = setTimeout(() => void this.#discover(state), delay);
      state.timer.unref();
    }
  }

  list(): { id: string; name: string; ready: boolean }[] {
    return [...this.#providers.values()].map((s) => ({ id: s.settings.id, name: s.settings.name || s.settings.id, ready: !!s.config && s.reachable }));
  }

  settings(id: string): ProviderSettings | undefined {
    return this.#providers.get(id)?.settings;
  }

  /** Throws 404 for an unknown provider and 503 for one not discovered (yet). */
  assertReady(id: string): void {
    this.#ready(id);
  }

  #ready(id: string): { settings: ProviderSettings; config: client.Configuration } {
    const state = this.#providers.get(id);
    if (!state) throw new AppError('not_found', 'There is no such sign-in provider');
    if (!state.config || !state.reachable) {
      throw new AppError('provider_unavailable', `The sign-in provider ${state.settings.name || id} cannot be reached right now; try again in a minute`, { headers: { 'Retry-After': '60' } });
    }
    return { settings: state.settings, config: state.config };
  }

  /** The address to send the browser to, with PKCE (S256), state and nonce. */
  async authorizationUrl(id: string, checks: { state: string; nonce: string; codeVerifier: string }): Promise<URL> {
    const { settings, config } = this.#ready(id);
    return client.buildAuthorizationUrl(config, {
      redirect_uri: this.#redirectUri,
      scope: settings.scopes.join(' '),
      state: checks.state,
      nonce: checks.nonce,
      code_challenge: await client.calculatePKCECodeChallenge(checks.codeVerifier),
      code_challenge_method: 'S256',
    });
  }

  /**
   * Completes a sign-in from the provider's redirect: code exchange and ID token checks. The
   * provider's refresh token, when it issues one (`offline_access`), lets a token refresh ask again.
   */
  async finish(id: string, callbackUrl: URL, checks: { state: string; nonce: string; codeVerifier: string }): Promise<ProviderIdentity & { refreshToken: string | null }> {
    const { settings, config } = this.#ready(id);
    let claims: Record<string, unknown>;
    let refreshToken: string | null = null;
    try {
      const tokens = await client.authorizationCodeGrant(config, callbackUrl, {
        pkceCodeVerifier: checks.codeVerifier,
        expectedState: checks.state,
        expectedNonce: checks.nonce,
        idTokenExpected: true,
      });
      claims = tokens.claims() as Record<string, unknown>;
      refreshToken = tokens.refresh_token ?? null;
      // openid-client checks that iat is a number, not that it is in the past: a token "issued" in
      // the future was made by a clock (or a forger) we must not trust.
      const iat = claims['iat'];
      if (typeof iat === 'number' && iat * 1000 > this.#checks.now().getTime() + this.#checks.clockSkewMs) {
        throw new SignInFailure('id_token_iat_in_future', 'The ID token says it was issued in the future');
      }
      // Many providers put e-mail, name and groups only in UserInfo; its subject must be the token's.
      claims = await this.#withUserInfo(settings, config, claims, tokens.access_token);
    } catch (error) {
      if (error instanceof SignInFailure) throw error;
      // The provider could not be reached for the code exchange: that is an outage, not a bad answer.
      if (error instanceof TypeError && /fetch failed/.test(error.message)) {
        throw new AppError('provider_unavailable', `The sign-in provider ${settings.name || id} cannot be reached right now; try again in a minute`);
      }
      throw new SignInFailure(reasonOf(error), (error as Error).message);
    }
    return { ...identityOf(settings, claims), refreshToken };
  }

  /** Many providers put e-mail, name and groups only in UserInfo; its subject must be the token's. */
  async #withUserInfo(settings: ProviderSettings, config: client.Configuration, claims: Record<string, unknown>, accessToken: string): Promise<Record<string, unknown>> {
    const wanted = [settings.claims.email, settings.claims.name, settings.claims.groups];
    if (!wanted.some((c) => claims[c] === undefined) || !config.serverMetadata().userinfo_endpoint) return claims;
    const info = await client.fetchUserInfo(config, accessToken, String(claims['sub']));
    return { ...info, ...claims };
  }

  /**
   * Asks the provider again, with the refresh token of the person's last sign-in, who they are now.
   * `refused`: the provider no longer honours the grant (account removed or disabled, consent
   * withdrawn, offline session ended). An outage throws `provider_unavailable`; the caller decides.
   */
  async recheck(id: string, refreshToken: string, expectedSubject: string): Promise<Recheck> {
    const { settings, config } = this.#ready(id);
    try {
      const tokens = await client.refreshTokenGrant(config, refreshToken);
      let claims: Record<string, unknown> = { iss: config.serverMetadata().issuer, sub: expectedSubject, ...(tokens.id_token ? (tokens.claims() as Record<string, unknown>) : {}) };
      if (claims['sub'] !== expectedSubject) return { status: 'refused', reason: 'subject_changed' };
      claims = await this.#withUserInfo(settings, config, claims, tokens.access_token);
      return { status: 'vouched', identity: identityOf(settings, claims), refreshToken: tokens.refresh_token ?? null };
    } catch (error) {
      if (error instanceof client.ResponseBodyError && ['invalid_grant', 'unauthorized_client', 'access_denied'].includes(error.error)) return { status: 'refused', reason: error.error };
      if (error instanceof TypeError && /fetch failed/.test(error.message)) {
        throw new AppError('provider_unavailable', `The sign-in provider ${settings.name || id} cannot be reached right now`);
      }
      throw new AppError('provider_unavailable', `The sign-in provider ${settings.name || id} answered the refresh in a way this server cannot use`, { cause: error });
    }
  }
}

/** The person as the provider's claims describe them, under the provider's claim names. */
function identityOf(settings: ProviderSettings, claims: Record<string, unknown>): ProviderIdentity {
  const text = (name: string) => (typeof claims[name] === 'string' && claims[name] !== '' ? (claims[name] as string) : null);
  const groupsClaim = claims[settings.claims.groups];
  const vouched = settings.emailVerified === 'always' || (settings.emailVerified === 'claim' && claims[settings.claims.email_verified] === true);
  return {
    issuer: String(claims['iss']),
    subject: String(claims['sub']),
    email: text(settings.claims.email),
    emailVerified: vouched,
    name: text(settings.claims.name),
    groups: Array.isArray(groupsClaim) ? groupsClaim.filter((g): g is string => typeof g === 'string') : [],
  };
}

/** Fresh state, nonce and PKCE verifier for one sign-in. */
export function newChecks(): { state: string; nonce: string; codeVerifier: string } {
  return { state: client.randomState(), nonce: client.randomNonce(), codeVerifier: client.randomPKCECodeVerifier() };
}

/** Reads a provider's `ca_file`. */
export function readCaFile(file: string): string | undefined {
  return file ? fs.readFileSync(file, 'utf8') : undefined;
}
