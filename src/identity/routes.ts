/**
 * The sign-in routes: browser login through a provider, logout, and the desktop (device) login of
 * PROTOCOL.md with its approval pages. The token endpoints answer in OAuth's own error format.
 */
import crypto from 'node:crypto';
import Router from '@koa/router';
import type { Context } from 'koa';
import { AppError } from '../errors.ts';
import { actorOf, assertCsrf, sessionCookie } from '../http/authenticate.ts';
import { readParams } from '../http/body.ts';
import { AttemptLimiter } from '../http/rate-limit.ts';
import type { AppState } from '../http/state.ts';
import { parseInput } from '../http/input.ts';
import type { SafeHtml } from '../web/html.ts';
import type { Person } from './people.ts';
import { chooserPage, deviceConfirmPage, deviceDonePage, deviceEntryPage, homePage, providerUnavailablePage } from './pages.ts';
import {deviceStart, returnTo, revokeRequest, tokenRequest} from './schema.ts';
import { OAuthError, type IdentityService } from './service.ts';

const loginCookie = '__Host-ms_login';

export interface IdentityRouteOptions {
  publicUrl: string;
  bodyLimit: number;
  loginLifetimeMs: number;
  demo: boolean;
  now: () => Date;
  /** More for the home page of a signed-in person (their pending invitations). */
  homeExtra?: ((person: Person, csrfToken: string) => SafeHtml) | undefined;
}

export function identityRouter(identity: IdentityService, options: IdentityRouteOptions) {
  const router = new Router<AppState>();
  const cookie = { httpOnly: true, secure: true, sameSite: 'lax' as const, path: '/', overwrite: true };
  // A person gets 10 wrong user codes per 15 minutes: with 20^8 codes, guessing one is hopeless.
  const codeGuesses = new AttemptLimiter(10, 15 * 60_000);
  const sendPage = (ctx: Context, body: string, status = 200) => {
    ctx.status = status;
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = body;
  };

  const beginLogin = async (ctx: Context & { state: AppState }, provider: string) => {
    const target = returnTo.parse(ctx.query['return_to'] ?? '/');
    const browserSecret = crypto.randomBytes(32).toString('base64url');
    const url = await identity.beginBrowserLogin(provider, target, browserSecret).catch((error: unknown) => {
      // A browser gets a page that says what is wrong; API clients keep the problem document.
      if (!(error instanceof AppError) || error.code !== 'provider_unavailable' || ctx.accepts('application/json', 'text/html') !== 'text/html') throw error;
      ctx.set(error.headers);
      sendPage(ctx, providerUnavailablePage(error.message, target, options.demo), error.status);
      return undefined;
    });
    if (!url) return;
    ctx.cookies.set(loginCookie, browserSecret, { ...cookie, maxAge: options.loginLifetimeMs });
    ctx.redirect(url.href);
  };

  router.get('/', (ctx) => {
    const actor = ctx.state.actor;
    const extra = actor?.via === 'session' && options.homeExtra ? options.homeExtra(actor.person, actor.csrfToken!) : undefined;
    sendPage(ctx, homePage(actor?.person, actor?.csrfToken, options.demo, extra));
  });

  router.get('/auth/login', async (ctx) => {
    const providers = identity.providers.list();
    if (providers.length === 1) return beginLogin(ctx, providers[0]!.id);
    sendPage(ctx, chooserPage(providers, returnTo.parse(ctx.query['return_to'] ?? '/'), options.demo));
  });
  router.get('/auth/login/:provider', (ctx) => beginLogin(ctx, ctx.params['provider']!));

  router.get('/auth/callback', async (ctx) => {
    const callbackUrl = new URL(`${options.publicUrl}/auth/callback${ctx.querystring ? `?${ctx.querystring}` : ''}`);
    const done = await identity.completeBrowserLogin(callbackUrl, ctx.cookies.get(loginCookie), ctx.ip);
    ctx.cookies.set(loginCookie, null, cookie);
    ctx.cookies.set(sessionCookie, done.secret, { ...cookie, expires: done.expiresAt });
    ctx.redirect(done.returnTo);
  });

  router.post('/auth/logout', async (ctx) => {
    const actor = actorOf(ctx);
    const form = await readParams(ctx, options.bodyLimit);
    assertCsrf(actor, form['_csrf']);
    if (actor.sessionId) identity.sessions.end(actor.sessionId);
    ctx.cookies.set(sessionCookie, null, cookie);
    ctx.status = 303;
    ctx.redirect('/');
  });

  // Desktop login: RFC 8628 as PROTOCOL.md specifies it.
  router.post('/auth/device', async (ctx) => {
    const input = parseInput(deviceStart, await readParams(ctx, options.bodyLimit));
    const started = identity.devices.start(input.client_name);
    const verificationUri = `${options.publicUrl}/device`;
    ctx.body = { ...started, verification_uri: verificationUri, verification_uri_complete: `${verificationUri}?user_code=${started.user_code}` };
  });

  router.post('/auth/token', async (ctx) => {
    try {
      const input = tokenRequest.safeParse(await readParams(ctx, options.bodyLimit));
      if (!input.success) throw new OAuthError('invalid_request', 'grant_type must be the device code grant or refresh_token, with its parameter');
      ctx.body = input.data.grant_type === 'refresh_token' ? identity.refresh(input.data.refresh_token, ctx.ip) : identity.pollDevice(input.data.device_code, ctx.ip);
    } catch (error) {
      if (!(error instanceof OAuthError)) throw error;
      ctx.status = 400;
      ctx.body = { error: error.error, error_description: error.description };
    }
  });

  router.post('/auth/revoke', async (ctx) => {
    const input = revokeRequest.safeParse(await readParams(ctx, options.bodyLimit));
    if (!input.success) {
      ctx.status = 400;
      ctx.body = { error: 'invalid_request', error_description: 'token is required' };
      return;
    }
    identity.revoke(input.data.token, ctx.ip);
    ctx.status = 200;
    ctx.body = {};
  });

  // The approval pages: sign in first, then type (or follow a link with) the user code.
  const signedInOrRedirect = (ctx: Context & { state: AppState }) => {
    if (ctx.state.actor?.via === 'session') return ctx.state.actor;
    ctx.redirect(`/auth/login?return_to=${encodeURIComponent(ctx.originalUrl)}`);
    return undefined;
  };

  router.get('/device', (ctx) => {
    const actor = signedInOrRedirect(ctx);
    if (actor) sendPage(ctx, deviceEntryPage(actor.csrfToken!, options.demo, undefined, typeof ctx.query['user_code'] === 'string' ? ctx.query['user_code'] : ''));
  });

  router.post('/device', async (ctx) => {
    const actor = actorOf(ctx);
    const form = await readParams(ctx, options.bodyLimit);
    assertCsrf(actor, form['_csrf']);
    const now = options.now().getTime();
    if (!codeGuesses.allowed(actor.person.id, now)) {
      throw new AppError('too_many_requests', 'Too many wrong codes; wait 15 minutes', { headers: { 'Retry-After': '900' } });
    }
    const pending = identity.devices.findPending(String(form['user_code'] ?? ''));
    if (!pending) {
      codeGuesses.record(actor.person.id, now);
      return sendPage(ctx, deviceEntryPage(actor.csrfToken!, options.demo, 'That code is not valid or has expired. Check the code your desktop client shows.'), 400);
    }
    sendPage(ctx, deviceConfirmPage(actor.csrfToken!, actor.person, pending.clientName, pending.userCode, options.demo));
  });

  router.post('/device/decision', async (ctx) => {
    const actor = actorOf(ctx);
    const form = await readParams(ctx, options.bodyLimit);
    assertCsrf(actor, form['_csrf']);
    const pending = identity.devices.findPending(String(form['user_code'] ?? ''));
    const approve = form['decision'] === 'approve';
    if (!pending || !identity.devices.decide(pending.id, actor.person.id, approve)) {
      return sendPage(ctx, deviceEntryPage(actor.csrfToken!, options.demo, 'That code is not valid or has expired.'), 400);
    }
    identity.recordDeviceDecision(actor, pending.id, approve, ctx.ip);
    sendPage(ctx, deviceDonePage(approve, pending.clientName, options.demo));
  });

  return router;
}
