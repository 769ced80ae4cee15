/**
 * Sign-in use cases: the browser login through a provider, the desktop (device) login, token refresh
 * and revocation, personal access tokens and break-glass. Every outcome, good or bad, is audited.
 */
import type { AuditService } from '../audit/audit-service.ts';
import type { Clock } from '../clock.ts';
import type { Config } from '../config/options.ts';
import type { Keyring } from '../crypto/keyring.ts';
import type { Db } from '../db/open.ts';
import { AppError } from '../errors.ts';
import type { Actor } from '../http/authenticate.ts';
import type { Log } from '../log.ts';
import { DeviceRequests } from './device-requests.ts';
import { LoginFlows } from './login-flows.ts';
import { OidcProviders, SignInFailure, type ProviderIdentity, type ProviderSettings } from './oidc.ts';
import { normalizeEmail, People, type Person } from './people.ts';
import { ProviderGrants } from './provider-grants.ts';
import { Profiles, type Picture, type Profile, type ProfileFields } from './profiles.ts';
import { Sessions } from './sessions.ts';
import { Tokens, type IssuedTokens, type Scope } from './tokens.ts';

/** An OAuth error answer of the token endpoint (RFC 6749 §5.2, RFC 8628 §3.5). */
export class OAuthError extends Error {
  constructor(readonly error: string, readonly description: string) {
    super(description);
  }
}

export interface IdentityDeps {
  config: Config;
  db: Db;
  keys: Keyring;
  clock: Clock;
  log: Log;
  audit: AuditService;
  providers: ProviderSettings[];
  /**
   * Told of each completed browser sign-in, with the provider's groups, before the session exists:
   * organizations take their members from it.
   */
  onSignIn?: ((person: Person, groups: readonly string[], source: string) => void) | undefined;
  /**
   * Told when a provider, asked again at a token refresh, no longer vouches for the person at all:
   * organizations drop the memberships its claims gave (and so list them among people who left).
   */
  onProviderWithdrew?: ((person: Person, provider: string, source: string) => void) | undefined;
}

/** How others see a person: the display name only ("former member" once erased). */
export interface PublicPerson {
  id: string;
  display_name: string;
}

export class IdentityService {
  readonly people: People;
  readonly profiles: Profiles;
  readonly sessions: Sessions;
  readonly tokens: Tokens;
  readonly flows: LoginFlows;
  readonly devices: DeviceRequests;
  readonly providers: OidcProviders;
  readonly grants: ProviderGrants;
  readonly #config: Config;
  readonly #clock: Clock;
  readonly #onProviderWithdrew: IdentityDeps['onProviderWithdrew'];
  /** One provider check per person at a time: two at once would present the same rotating refresh token twice. */
  readonly #checking = new Map<string, Promise<boolean>>();
  readonly #audit: AuditService;
  readonly #log: Log;
  readonly #onSignIn: IdentityDeps['onSignIn'];

  constructor(deps: IdentityDeps) {
    const { config, db, keys, clock, audit } = deps;
    const auth = config.auth;
    this.#config = config;
    this.#audit = audit;
    this.#log = deps.log;
    this.people = new People(db, keys, clock);
    this.profiles = new Profiles(db, keys, clock);
    this.#onSignIn = deps.onSignIn;
    this.#onProviderWithdrew = deps.onProviderWithdrew;
    this.#clock = clock;
    this.grants = new ProviderGrants(db, keys);
    this.sessions = new Sessions(db, clock, { idleMs: auth.session_idle, lifetimeMs: auth.session_lifetime });
    this.tokens = new Tokens(db, keys, clock, { accessMs: auth.access_token_lifetime, refreshMs: auth.refresh_token_lifetime, breakGlassMs: auth.break_glass_lifetime });
    this.flows = new LoginFlows(db, keys, clock, auth.login_lifetime);
    this.devices = new DeviceRequests(db, keys, clock, { lifetimeMs: auth.device_code_lifetime, intervalMs: auth.device_poll_interval });
    // Wall-clock time, as openid-client uses for exp: the provider stamps its tokens with the real time.
    this.providers = new OidcProviders(deps.providers, `${config.public_url}/auth/callback`, deps.log, { now: () => new Date(), clockSkewMs: auth.clock_skew }, auth.provider_check_interval);
  }

  /** Starts a browser sign-in: the provider's authorization URL for this flow. */
  async beginBrowserLogin(providerId: string, returnTo: string, browserSecret: string): Promise<URL> {
    this.providers.assertReady(providerId);
    const flow = this.flows.start(providerId, returnTo, browserSecret);
    return this.providers.authorizationUrl(providerId, flow);
  }

  /** Completes a browser sign-in from the provider's redirect; a failure is audited and answered 401. */
  async completeBrowserLogin(callbackUrl: URL, browserSecret: string | undefined, source: string): Promise<{ secret: string; expiresAt: Date; returnTo: string; person: Person }> {
    const fail = (reason: string, detail: string, flowId?: string): never => {
      this.#audit.record({ action: 'auth.sign_in', outcome: 'denied', reason, source, target: flowId ? { type: 'login_flow', id: flowId } : undefined });
      throw new AppError('sign_in_failed', detail, { extra: { reason } });
    };
    const state = callbackUrl.searchParams.get('state');
    if (!state) return fail('state_missing', 'The answer of the sign-in provider carries no state');
    const taken = this.flows.take(state, browserSecret);
    if (!taken.ok) {
      const details: Record<typeof taken.reason, string> = {
        unknown_state: 'This sign-in is not known here; start again',
        replayed: 'This sign-in answer was already used; start again',
        expired: 'This sign-in took too long; start again',
        wrong_browser: 'This sign-in was started in another browser; start again here',
      };
      return fail(taken.reason, details[taken.reason], taken.flowId);
    }
    const { flow } = taken;
    let identity;
    try {
      identity = await this.providers.finish(flow.provider, callbackUrl, flow);
    } catch (error) {
      if (error instanceof SignInFailure) {
        this.#log.warn({ provider: flow.provider, reason: error.reason, error: error.message }, 'sign-in refused');
        return fail(error.reason, 'The sign-in provider\'s answer could not be verified', flow.id);
      }
      throw error;
    }
    const person = this.#vouchedFor(flow.provider, identity);
    if (person.blockedAt) {
      this.#audit.record({ action: 'auth.sign_in', outcome: 'denied', reason: 'person_blocked', actor: { id: person.id, email: person.email ?? undefined }, source, details: { provider: flow.provider } });
      throw new AppError('sign_in_failed', 'A server admin has blocked your account on this server', { extra: { reason: 'person_blocked' } });
    }
    this.#onSignIn?.(person, identity.groups, source);
    if (identity.refreshToken) this.grants.put({ personId: person.id, provider: flow.provider, refreshToken: identity.refreshToken, subject: identity.subject, checkedAt: this.#clock.now().toISOString() });
    const { secret, expiresAt } = this.sessions.create(person.id, flow.provider);
    this.#audit.record({
      action: 'auth.sign_in',
      outcome: 'allowed',
      actor: { id: person.id, email: person.email ?? undefined },
      source,
      details: { provider: flow.provider, email_verified: person.emailVerified, server_admin: person.serverAdmin },
    });
    return { secret, expiresAt, returnTo: flow.returnTo, person };
  }

  /** The person the provider vouches for, as of now: who is a server admin follows the claims and the config. */
  #vouchedFor(providerId: string, identity: ProviderIdentity): Person {
    const settings = this.providers.settings(providerId)!;
    const verified = identity.emailVerified && identity.email !== null;
    const admins = new Set(this.#config.auth.admins.map(normalizeEmail));
    const serverAdmin = (verified && admins.has(normalizeEmail(identity.email!))) || identity.groups.some((g) => settings.adminGroups.includes(g));
    return this.people.signIn({ ...identity, emailVerified: verified, serverAdmin });
  }

  /**
   * At a token refresh: asks each provider that gave the person a refresh token, at most every
   * `auth.provider_recheck`, whether it still vouches for them. Vouched: the person and their
   * memberships follow the claims, as at a sign-in. Refused: every login, token and session of the
   * person ends, and organizations drop what the claims gave. Unreachable: logged, and the refresh
   * goes on (everything signed in keeps working through a provider outage); it asks again next time.
   */
  async #providerStillVouches(personId: string, source: string): Promise<boolean> {
    const running = this.#checking.get(personId);
    if (running) return running;
    const check = this.#recheckProviders(personId, source).finally(() => this.#checking.delete(personId));
    this.#checking.set(personId, check);
    return check;
  }

  async #recheckProviders(personId: string, source: string): Promise<boolean> {
    const now = this.#clock.now();
    for (const grant of this.grants.of(personId)) {
      if (now.getTime() - Date.parse(grant.checkedAt) < this.#config.auth.provider_recheck) continue;
      // A provider taken out of the config cannot be asked; its grant is of no more use.
      if (!this.providers.settings(grant.provider)) {
        this.grants.remove(personId, grant.provider);
        continue;
      }
      let answer;
      try {
        answer = await this.providers.recheck(grant.provider, grant.refreshToken, grant.subject);
      } catch (error) {
        if (!(error instanceof AppError)) throw error;
        this.#log.warn({ provider: grant.provider, err: error }, 'the sign-in provider could not be asked at a token refresh; asking again at the next one');
        continue;
      }
      if (answer.status === 'refused') {
        this.grants.remove(personId, grant.provider);
        this.tokens.revokeAllOf(personId, 'provider_refused');
        this.sessions.removePerson(personId);
        this.#audit.record({ action: 'auth.provider_recheck', outcome: 'denied', reason: 'provider_refused', actor: this.#actorRef(personId), source, details: { provider: grant.provider, answer: answer.reason } });
        const person = this.people.get(personId);
        if (person) this.#onProviderWithdrew?.(person, grant.provider, source);
        return false;
      }
      const person = this.#vouchedFor(grant.provider, answer.identity);
      this.#onSignIn?.(person, answer.identity.groups, source);
      // Routine: no audit row (what the claims changed, the organizations audit themselves).
      this.grants.put({ personId, provider: grant.provider, refreshToken: answer.refreshToken ?? grant.refreshToken, subject: grant.subject, checkedAt: this.#clock.now().toISOString() });
    }
    return true;
  }

  recordDeviceDecision(actor: Actor, requestId: string, approved: boolean, source: string): void {
    this.#audit.record({
      action: 'auth.device_decision',
      outcome: approved ? 'allowed' : 'denied',
      reason: approved ? undefined : 'denied_by_person',
      actor: this.#actorRef(actor.person.id),
      target: { type: 'device_request', id: requestId },
      source,
    });
  }

  /** One poll of the token endpoint with a device code. */
  pollDevice(deviceCode: string, source: string): IssuedTokens {
    const result = this.devices.poll(deviceCode);
    switch (result.status) {
      case 'pending':
        throw new OAuthError('authorization_pending', 'The sign-in has not been approved yet');
      case 'slow_down':
        throw new OAuthError('slow_down', 'Polling too fast; wait 5 seconds longer between polls');
      case 'denied':
        throw new OAuthError('access_denied', 'The sign-in was denied');
      case 'expired':
        throw new OAuthError('expired_token', 'The device code has expired or was already used; start again');
      case 'unknown':
        this.#audit.record({ action: 'auth.token', outcome: 'denied', reason: 'unknown_device_code', source });
        throw new OAuthError('invalid_grant', 'The device code is not valid');
      case 'approved': {
        if (this.people.get(result.personId)?.blockedAt) {
          this.#audit.record({ action: 'auth.token', outcome: 'denied', reason: 'person_blocked', actor: this.#actorRef(result.personId), source, details: { grant: 'device_code' } });
          throw new OAuthError('access_denied', 'The account is blocked on this server');
        }
        const { loginId, tokens } = this.tokens.startLogin(result.personId, result.clientName);
        this.#audit.record({ action: 'auth.token', outcome: 'allowed', actor: this.#actorRef(result.personId), target: { type: 'login', id: loginId }, source, details: { grant: 'device_code', client_name: result.clientName } });
        return tokens;
      }
    }
  }

  async refresh(refreshToken: string, source: string): Promise<IssuedTokens> {
    const result = this.tokens.refresh(refreshToken);
    if (result.ok && this.people.get(result.personId)?.blockedAt) {
      // Blocking revokes every login, so this is a race with the block: the new pair goes too.
      this.tokens.revokeLogin(result.loginId, 'person_blocked');
      this.#audit.record({ action: 'auth.token', outcome: 'denied', reason: 'person_blocked', actor: this.#actorRef(result.personId), target: { type: 'login', id: result.loginId }, source });
      throw new OAuthError('invalid_grant', 'The account is blocked on this server');
    }
    if (result.ok && !(await this.#providerStillVouches(result.personId, source))) {
      this.#audit.record({ action: 'auth.token', outcome: 'denied', reason: 'provider_refused', actor: this.#actorRef(result.personId), target: { type: 'login', id: result.loginId }, source });
      throw new OAuthError('invalid_grant', 'Your sign-in provider no longer vouches for you; sign in again');
    }
    if (result.ok) {
      this.#audit.record({ action: 'auth.token', outcome: 'allowed', actor: this.#actorRef(result.personId), target: { type: 'login', id: result.loginId }, source, details: { grant: 'refresh_token' } });
      return result.tokens;
    }
    if (result.reason === 'reused') {
      this.#audit.record({ action: 'auth.refresh_reuse', outcome: 'denied', reason: 'refresh_token_reuse', actor: this.#actorRef(result.personId), target: { type: 'login', id: result.loginId }, source });
      throw new OAuthError('invalid_grant', 'The refresh token was already used; the login has been revoked, sign in again');
    }
    this.#audit.record({ action: 'auth.token', outcome: 'denied', reason: `refresh_${result.reason}`, source });
    throw new OAuthError('invalid_grant', 'The refresh token is not valid');
  }

  /** RFC 7009: always succeeds for the caller; what was revoked is audited. */
  revoke(token: string, source: string): void {
    const revoked = this.tokens.revoke(token);
    this.#audit.record({
      action: 'auth.revoke',
      outcome: revoked ? 'allowed' : 'failed',
      reason: revoked ? undefined : 'unknown_token',
      actor: revoked ? this.#actorRef(revoked.personId) : undefined,
      target: revoked ? (revoked.loginId ? { type: 'login', id: revoked.loginId } : { type: 'token', id: revoked.tokenId }) : undefined,
      source,
    });
  }

  createPersonalToken(actor: Actor, name: string, scopes: Scope[], lifetimeMs: number, source: string) {
    if (actor.via === 'personal' || actor.via === 'break_glass') {
      this.#audit.record({ action: 'token.create', outcome: 'denied', reason: 'token_cannot_create_tokens', actor: this.#actorRef(actor.person.id), source });
      throw new AppError('forbidden', 'Personal access tokens are created from a browser session or a desktop login, not with another token');
    }
    if (scopes.includes('admin') && !actor.person.serverAdmin) {
      this.#audit.record({ action: 'token.create', outcome: 'denied', reason: 'admin_scope_not_allowed', actor: this.#actorRef(actor.person.id), source });
      throw new AppError('forbidden', 'Only server admins may create tokens with the admin scope');
    }
    const created = this.tokens.createPersonal(actor.person.id, name, scopes, lifetimeMs);
    this.#audit.record({ action: 'token.create', outcome: 'allowed', actor: this.#actorRef(actor.person.id), target: { type: 'token', id: created.id }, source, details: { scopes } });
    return created;
  }

  revokePersonalToken(actor: Actor, tokenId: string, source: string): void {
    const done = this.tokens.revokePersonal(actor.person.id, tokenId);
    this.#audit.record({ action: 'token.revoke', outcome: done ? 'allowed' : 'denied', reason: done ? undefined : 'not_found', actor: this.#actorRef(actor.person.id), target: { type: 'token', id: tokenId }, source });
    if (!done) throw new AppError('not_found', 'There is no such token');
  }

  /** `modelshare admin token`: a short-lived server-admin token for when the provider is down. */
  breakGlass(email: string): { token: string; expiresAt: Date; person: Person } {
    const person =
      this.people.findByEmail(email) ??
      this.people.signIn({ issuer: 'urn:modelshare:break-glass', subject: normalizeEmail(email), email, emailVerified: true, name: null, serverAdmin: true });
    const { token, tokenId, expiresAt } = this.tokens.createBreakGlass(person.id);
    this.#audit.record({ action: 'auth.break_glass_issued', outcome: 'allowed', actor: { id: person.id, email }, target: { type: 'token', id: tokenId }, source: 'command line' });
    return { token, expiresAt, person };
  }

  /** Changes the caller's own profile; which fields changed is audited, never their values. */
  updateProfile(actor: Actor, input: { [K in keyof ProfileFields]?: string | null } & { picture?: Picture | null | undefined }, source: string): Profile {
    const { picture, ...fields } = input;
    const profile = this.profiles.update(actor.person.id, fields, picture);
    this.#audit.record({ action: 'profile.update', outcome: 'allowed', actor: this.#actorRef(actor.person.id), target: { type: 'person', id: actor.person.id }, source, details: { fields: Object.keys(input) } });
    return profile;
  }

  /** The name others see: the display name of the profile, else the provider's name, else the address. */
  publicPerson(personId: string): PublicPerson {
    const person = this.people.get(personId);
    if (!person || person.erasedAt) return { id: personId, display_name: 'former member' };
    const shown = this.profiles.get(personId).fields.display_name ?? person.name ?? person.email ?? 'unnamed';
    return { id: personId, display_name: shown };
  }

  /** Erase, identity's part: sessions, tokens, desktop logins and requests, the profile, then the person's personal data. */
  erase(personId: string): boolean {
    this.sessions.removePerson(personId);
    this.tokens.removePerson(personId);
    this.devices.removePerson(personId);
    this.grants.removePerson(personId);
    this.profiles.remove(personId);
    return this.people.erase(personId);
  }

  #actorRef(personId: string): { id: string; email?: string } {
    const person = this.people.get(personId);
    return person?.email ? { id: personId, email: person.email } : { id: personId };
  }
}
