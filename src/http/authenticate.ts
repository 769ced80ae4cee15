/**
 * Who is calling. A route takes exactly one kind of credential (see `Access` in route-table.ts): a
 * bearer token (desktop clients, personal access tokens, break-glass) or a browser session cookie.
 * These functions read one kind each; the router calls the one the route declares and ignores the
 * other, so a token never opens a browser page and a session cookie never opens the API.
 */
import crypto from 'node:crypto';
import type { Context } from 'koa';
import { AppError } from '../errors.ts';
import type { Person } from '../identity/people.ts';
import type { Scope } from '../identity/tokens.ts';

export const sessionCookie = '__Host-ms_session';

export interface Actor {
  person: Person;
  scopes: readonly Scope[];
  via: 'session' | 'access_token' | 'personal' | 'break_glass';
  sessionId?: string;
  csrfToken?: string;
  tokenId?: string;
  /** When the credential stops being valid (event streams close then). */
  expiresAt?: Date | undefined;
}

/** Resolves credentials to an actor; supplied by the identity domain. */
export interface Authenticator {
  bearer(token: string, ctx: Context): Actor | undefined;
  session(secret: string): Actor | undefined;
  /** Whether the credential behind `actor` is still valid now (for long-lived event streams). */
  stillValid(actor: Actor): boolean;
}

export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && crypto.timingSafeEqual(x, y);
}

/**
 * The bearer token of the request: `none` without an `Authorization: Bearer` header, `malformed`
 * for one that cannot be a token of ours. Other schemes (Basic, for the demo provider) count as none.
 */
export function bearerToken(ctx: Context): string | 'none' | 'malformed' {
  const header = ctx.get('Authorization');
  if (!/^bearer /i.test(header)) return 'none';
  const match = /^bearer ([\x21-\x7e]{1,512})$/i.exec(header);
  return match ? match[1]! : 'malformed';
}

export const invalidToken = () =>
  new AppError('unauthorized', 'The access token is not valid, or has expired or been revoked', { headers: { 'WWW-Authenticate': 'Bearer error="invalid_token"' } });

export const tokenRequired = () =>
  new AppError('unauthorized', 'This call needs an access token (Authorization: Bearer)', { headers: { 'WWW-Authenticate': 'Bearer' } });

/** The browser session of the request, if its cookie names a live one. */
export function sessionActor(ctx: Context, authenticator: Authenticator): Actor | undefined {
  const secret = ctx.cookies.get(sessionCookie);
  return secret ? authenticator.session(secret) : undefined;
}

/** For form posts of server-rendered pages: the `_csrf` field (or `X-CSRF-Token`) must be the session's token. */
export function assertCsrf(actor: Actor, provided: unknown): void {
  if (typeof provided !== 'string' || !safeEqual(provided, actor.csrfToken ?? '')) {
    throw new AppError('csrf_failed', 'The form is out of date or did not come from this site; reload the page and try again');
  }
}
