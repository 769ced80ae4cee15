/**
 * Who is calling: a bearer token (desktop clients, personal access tokens, break-glass) or a browser
 * session cookie. The result is `ctx.state.actor`; the gates below decide what it may do. Browser
 * sessions must prove each unsafe request with the session's CSRF token (header `X-CSRF-Token` on the
 * API; the `_csrf` form field on server-rendered pages, checked by their handlers with assertCsrf).
 */
import crypto from 'node:crypto';
import type { Context, Next } from 'koa';
import { AppError } from '../errors.ts';
import type { Person } from '../identity/people.ts';
import type { Scope } from '../identity/tokens.ts';
import type { AppState } from './state.ts';

export const sessionCookie = '__Host-ms_session';

export interface Actor {
  person: Person;
  scopes: readonly Scope[];
  via: 'session' | 'access_token' | 'personal' | 'break_glass';
  sessionId?: string;
  csrfToken?: string;
  tokenId?: string;
}

/** Resolves credentials to an actor; supplied by the identity domain. */
export interface Authenticator {
  bearer(token: string, ctx: Context): Actor | undefined;
  session(secret: string): Actor | undefined;
}

const unsafe = (method: string) => !['GET', 'HEAD', 'OPTIONS'].includes(method);

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && crypto.timingSafeEqual(x, y);
}

export function authenticate(authenticator: Authenticator) {
  return async (ctx: Context & { state: AppState }, next: Next) => {
    // Only Bearer credentials are ours; another scheme (Basic, for the demo provider's token
    // endpoint) is left to whoever it is meant for, and counts as no credentials here.
    const header = ctx.get('Authorization');
    if (/^bearer /i.test(header)) {
      const match = /^bearer ([\x21-\x7e]{1,512})$/i.exec(header);
      const actor = match ? authenticator.bearer(match[1]!, ctx) : undefined;
      if (!actor) {
        throw new AppError('unauthorized', 'The access token is not valid, or has expired or been revoked', {
          headers: { 'WWW-Authenticate': 'Bearer error="invalid_token"' },
        });
      }
      ctx.state.actor = actor;
    } else {
      const secret = ctx.cookies.get(sessionCookie);
      const actor = secret ? authenticator.session(secret) : undefined;
      if (actor) {
        ctx.state.actor = actor;
        if (unsafe(ctx.method) && ctx.path.startsWith('/api/') && !safeEqual(ctx.get('X-CSRF-Token'), actor.csrfToken!)) {
          throw new AppError('csrf_failed', 'Send the X-CSRF-Token header with every change made from a browser');
        }
      }
    }
    await next();
  };
}

/** For form posts of server-rendered pages: the `_csrf` field must be the session's token. */
export function assertCsrf(actor: Actor, provided: unknown): void {
  if (actor.via !== 'session') return;
  if (typeof provided !== 'string' || !safeEqual(provided, actor.csrfToken!)) {
    throw new AppError('csrf_failed', 'The form is out of date or did not come from this site; reload the page and try again');
  }
}

/** The caller, or a 401. */
export function actorOf(ctx: { state: AppState }): Actor {
  if (!ctx.state.actor) throw new AppError('unauthorized', 'Sign in first', { headers: { 'WWW-Authenticate': 'Bearer' } });
  return ctx.state.actor;
}

/** Gate: signed in, with a token that carries `scope` (sessions carry every scope of their person). */
export function requireScope(scope: Scope) {
  return async (ctx: Context & { state: AppState }, next: Next) => {
    const actor = actorOf(ctx);
    if (!actor.scopes.includes(scope)) throw new AppError('insufficient_scope', `This call needs a token with the ${scope} scope`);
    await next();
  };
}

/** Gate: a server admin (from the config, a provider group or a break-glass token). */
export function requireServerAdmin() {
  return async (ctx: Context & { state: AppState }, next: Next) => {
    const actor = actorOf(ctx);
    if (!actor.person.serverAdmin || !actor.scopes.includes('admin')) throw new AppError('forbidden', 'Only server admins may do this');
    await next();
  };
}
