/**
 * The sign-in routes as their part of the route table: browser login through a provider, logout,
 * and the desktop (device) login of PROTOCOL.md with its approval pages. The approval pages take
 * only a browser session with its CSRF token: a bearer token never approves a device login. The
 * token endpoints answer in OAuth's own error format.
 */
import crypto from 'node:crypto';
import { z } from 'zod';
import { sessionCookie } from '../http/authenticate.ts';
import type { RateLimits } from '../http/limits.ts';
import { access, route, type AnyRoute, type RouteContext } from '../http/route-table.ts';
import type { SafeHtml } from '../web/html.ts';
import type { Person } from './people.ts';
import { AppError } from '../errors.ts';
import { chooserPage, deviceConfirmPage, deviceDonePage, deviceEntryPage, homePage, noProviderPage, signInProblemPage } from './pages.ts';
import { publicUrlFor } from './public-origin.ts';
import { deviceStart, deviceStartResponse, returnTo, revokeRequest, tokenRequest, tokenResponse } from './schema.ts';
import { OAuthError, type IdentityService } from './service.ts';

const loginCookie = '__Host-ms_login';

export interface IdentityRouteOptions {
  publicUrl: string;
  loginLifetimeMs: number;
  demo: boolean;
  limits: RateLimits;
  /**
   * Send a browser that starts a sign-in at another address than public_url there first. Only when
   * this server terminates TLS itself: behind a proxy the Host it sees need not be the browser's.
   */
  sendToPublicUrl?: boolean;
  /** More for the home page of a signed-in person (their pending invitations). */
  homeExtra?: ((person: Person, csrfToken: string) => SafeHtml) | undefined;
}

/** Any other body of the OAuth endpoints reaches the handler, which answers it in OAuth's error format. */
const oauthOther = z.record(z.string(), z.unknown()).describe("Anything else is answered 400 {error: 'invalid_request'}");
const returnToQuery = z.object({ return_to: z.unknown().optional() });
const userCodeForm = z.object({ user_code: z.string().max(20).default('') });
const decisionForm = z.object({ user_code: z.string().max(20).default(''), decision: z.enum(['approve', 'deny']) });
const providerParams = z.object({ provider: z.string() });

export function identityRoutes(identity: IdentityService, options: IdentityRouteOptions): AnyRoute[] {
  const cookie = { httpOnly: true, secure: true, sameSite: 'lax' as const, path: '/', overwrite: true };
  const sendPage = (ctx: RouteContext, body: string, status = 200) => {
    ctx.status = status;
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = body;
  };
  /** A failed browser sign-in: an HTML page for a browser, the problem document for anyone else. */
  const signInStep = async (ctx: RouteContext, step: () => Promise<void>) => {
    try {
      await step();
    } catch (error) {
      if (!(error instanceof AppError) || ctx.accepts('json', 'html') !== 'html') throw error;
      const reason = typeof error.extra['reason'] === 'string' ? error.extra['reason'] : error.code;
      const page = signInProblemPage({ detail: error.message, reason, requestId: ctx.state.requestId, publicUrl: options.publicUrl }, options.demo);
      for (const [name, value] of Object.entries(error.headers)) ctx.set(name, value);
      sendPage(ctx, page, error.status);
    }
  };

  // A sign-in started at another address would return to public_url without its login cookie.
  const elsewhere = (ctx: RouteContext) => (options.sendToPublicUrl ? publicUrlFor(`${ctx.protocol}://${ctx.host}`, ctx.originalUrl, options.publicUrl) : undefined);

  const beginLogin = async (ctx: RouteContext, provider: string, target: string) => {
    // An unknown provider (404) or one that cannot be reached (503) is answered here, not after a detour.
    identity.providers.assertReady(provider);
    const atPublicUrl = elsewhere(ctx);
    if (atPublicUrl) return ctx.redirect(atPublicUrl);
    const browserSecret = crypto.randomBytes(32).toString('base64url');
    const url = await identity.beginBrowserLogin(provider, target, browserSecret);
    ctx.cookies.set(loginCookie, browserSecret, { ...cookie, maxAge: options.loginLifetimeMs });
    ctx.redirect(url.href);
  };

  return [
    route({
      method: 'GET', path: '/', summary: 'Home page', access: access.page, html: true,
      handler: ({ actor }, ctx) => {
        const extra = actor && options.homeExtra ? options.homeExtra(actor.person, actor.csrfToken!) : undefined;
        sendPage(ctx, homePage(actor?.person, actor?.csrfToken, options.demo, extra, identity.providers.list().length > 0));
      },
    }),
    route({
      method: 'GET', path: '/auth/login', summary: 'Browser sign-in: choose a provider', access: access.public, query: returnToQuery, limit: 'sign_in', html: true,
      handler: async ({ query }, ctx) => {
        const target = returnTo.parse(query.return_to ?? '/');
        const providers = identity.providers.list();
        if (providers.length === 0) return sendPage(ctx, noProviderPage(), 503);
        // One provider: beginLogin answers an outage (503) before any detour to public_url.
        if (providers.length === 1) return signInStep(ctx, () => beginLogin(ctx, providers[0]!.id, target));
        const atPublicUrl = elsewhere(ctx);
        if (atPublicUrl) return ctx.redirect(atPublicUrl);
        sendPage(ctx, chooserPage(providers, target, options.demo));
      },
    }),
    route({
      method: 'GET', path: '/auth/login/:provider', summary: 'Browser sign-in through one provider', access: access.public, params: providerParams, query: returnToQuery, limit: 'sign_in', html: true,
      handler: ({ params, query }, ctx) => signInStep(ctx, () => beginLogin(ctx, params.provider, returnTo.parse(query.return_to ?? '/'))),
    }),
    route({
      method: 'GET', path: '/auth/callback', summary: "The provider's redirect back after sign-in", access: access.public, limit: 'sign_in', html: true,
      handler: ({ ip }, ctx) =>
        signInStep(ctx, async () => {
          const callbackUrl = new URL(`${options.publicUrl}/auth/callback${ctx.querystring ? `?${ctx.querystring}` : ''}`);
          const done = await identity.completeBrowserLogin(callbackUrl, ctx.cookies.get(loginCookie), ip);
          ctx.cookies.set(loginCookie, null, cookie);
          ctx.cookies.set(sessionCookie, done.secret, { ...cookie, expires: done.expiresAt });
          ctx.redirect(done.returnTo);
        }),
    }),
    route({
      method: 'POST', path: '/auth/logout', summary: 'Sign out of this browser', access: access.session, body: { kind: 'form', schema: z.object({}) }, html: true,
      handler: ({ actor }, ctx) => {
        if (actor.sessionId) identity.sessions.end(actor.sessionId);
        ctx.cookies.set(sessionCookie, null, cookie);
        ctx.status = 303;
        ctx.redirect('/');
      },
    }),
    // Desktop login: RFC 8628 as PROTOCOL.md specifies it.
    route({
      method: 'POST', path: '/auth/device', summary: 'Start a desktop (device) login', access: access.public, body: { kind: 'params', schema: deviceStart }, limit: 'device_code', response: deviceStartResponse,
      handler: ({ body }) => {
        const started = identity.devices.start(body.client_name);
        const verificationUri = `${options.publicUrl}/device`;
        return { ...started, verification_uri: verificationUri, verification_uri_complete: `${verificationUri}?user_code=${started.user_code}` };
      },
    }),
    route({
      method: 'POST', path: '/auth/token', summary: 'Poll a device login, or refresh an access token', access: access.public, // Anything else is parsed by the handler, which answers in OAuth's error format.
      body: { kind: 'params', schema: z.union([tokenRequest, oauthOther]) }, limit: 'token', response: tokenResponse,
      handler: async ({ body, ip }, ctx) => {
        try {
          const input = tokenRequest.safeParse(body);
          if (!input.success) throw new OAuthError('invalid_request', 'grant_type must be the device code grant or refresh_token, with its parameter');
          return input.data.grant_type === 'refresh_token' ? await identity.refresh(input.data.refresh_token, ip) : identity.pollDevice(input.data.device_code, ip);
        } catch (error) {
          if (!(error instanceof OAuthError)) throw error;
          ctx.status = 400;
          ctx.body = { error: error.error, error_description: error.description };
        }
      },
    }),
    route({
      method: 'POST', path: '/auth/revoke', summary: 'Revoke a token (RFC 7009)', access: access.public, body: { kind: 'params', schema: z.union([revokeRequest, oauthOther]) }, limit: 'token',
      handler: ({ body, ip }, ctx) => {
        const input = revokeRequest.safeParse(body);
        if (!input.success) {
          ctx.status = 400;
          ctx.body = { error: 'invalid_request', error_description: 'token is required' };
          return;
        }
        identity.revoke(input.data.token, ip);
        return {};
      },
    }),
    // The approval pages: sign in first, then type (or follow a link with) the user code.
    route({
      method: 'GET', path: '/device', summary: 'Approve a desktop login: enter the code', access: access.session, query: z.object({ user_code: z.string().max(20).optional() }), html: true,
      handler: ({ actor, query }, ctx) => sendPage(ctx, deviceEntryPage(actor.csrfToken!, options.demo, undefined, query.user_code ?? '')),
    }),
    route({
      method: 'POST', path: '/device', summary: 'Approve a desktop login: check the code', access: access.session, body: { kind: 'form', schema: userCodeForm }, html: true,
      handler: async ({ actor, body }, ctx) => {
        await options.limits.check('user_code', actor.person.id);
        const pending = identity.devices.findPending(body.user_code);
        if (!pending) {
          await options.limits.fail('user_code', actor.person.id);
          return sendPage(ctx, deviceEntryPage(actor.csrfToken!, options.demo, 'That code is not valid or has expired. Check the code your desktop client shows.'), 400);
        }
        sendPage(ctx, deviceConfirmPage(actor.csrfToken!, actor.person, pending.clientName, pending.userCode, options.demo));
      },
    }),
    route({
      method: 'POST', path: '/device/decision', summary: 'Approve or deny a desktop login', access: access.session, body: { kind: 'form', schema: decisionForm }, html: true,
      handler: ({ actor, body, ip }, ctx) => {
        const pending = identity.devices.findPending(body.user_code);
        const approve = body.decision === 'approve';
        if (!pending || !identity.devices.decide(pending.id, actor.person.id, approve)) {
          return sendPage(ctx, deviceEntryPage(actor.csrfToken!, options.demo, 'That code is not valid or has expired.'), 400);
        }
        identity.recordDeviceDecision(actor, pending.id, approve, ip);
        sendPage(ctx, deviceDonePage(approve, pending.clientName, options.demo));
      },
    }),
  ];
}
