/**
 * Builds the one router from the route table. For every route, in this order: the credential its
 * access kind takes (and nothing else), its rate limit, its path parameters, its resource gate, then
 * its query and body; the handler runs last with typed input and an authorized actor. Gates run
 * before a body is read, so a caller who may not act learns nothing from how the body is judged.
 */
import Router from '@koa/router';
import type { Next } from 'koa';
import type { AuditService } from '../audit/audit-service.ts';
import { AppError } from '../errors.ts';
import { assertCsrf, bearerToken, invalidToken, sessionActor, tokenRequired, type Actor, type Authenticator } from './authenticate.ts';
import { readForm, readJson, readParams } from './body.ts';
import { parseInput } from './input.ts';
import type { RateLimits } from './limits.ts';
import type { AnyRoute, RouteContext } from './route-table.ts';
import type { AppState } from './state.ts';

export interface RouterDeps {
  authenticator: Authenticator;
  audit: AuditService;
  limits: RateLimits;
  /** The largest JSON or form body a route reads. */
  bodyLimit: number;
}

const unsafe = (method: string) => !['GET', 'HEAD', 'OPTIONS'].includes(method);
/** Path parameters are ids, sequence numbers or `latest`: anything else names nothing here. */
const plausibleParam = /^[A-Za-z0-9._~-]{1,200}$/;

export function buildRouter(table: readonly AnyRoute[], deps: RouterDeps): Router<AppState> {
  const router = new Router<AppState>();
  for (const r of table) router.register(r.path, [r.method], [(ctx: RouteContext, next: Next) => serve(r, deps, ctx, next)], { name: `${r.method} ${r.path}` });
  return router;
}

/** Finds the caller the route's access kind allows, or refuses. */
async function caller(r: AnyRoute, deps: RouterDeps, ctx: RouteContext): Promise<Actor | undefined> {
  switch (r.access.kind) {
    case 'public':
      return undefined;
    case 'operator':
      r.access.check(ctx);
      return undefined;
    case 'page':
      return sessionActor(ctx, deps.authenticator);
    case 'session': {
      const actor = sessionActor(ctx, deps.authenticator);
      if (actor) return actor;
      if (!unsafe(ctx.method)) {
        ctx.redirect(`/auth/login?return_to=${encodeURIComponent(ctx.originalUrl)}`);
        return undefined;
      }
      throw new AppError('unauthorized', 'Sign in first: this page takes a browser session');
    }
    case 'token': {
      const token = bearerToken(ctx);
      if (token === 'none') throw tokenRequired();
      await deps.limits.checkFailedTokens(ctx.ip);
      const actor = token === 'malformed' ? undefined : deps.authenticator.bearer(token, ctx);
      if (!actor) {
        // The first bad token of a window from an address is audited; the rest are counted by the limiter.
        if (await deps.limits.failedToken(ctx.ip)) deps.audit.record({ action: 'auth.bearer', outcome: 'denied', reason: 'invalid_token', source: ctx.ip, details: { method: ctx.method, path: r.path } });
        throw invalidToken();
      }
      if (!actor.scopes.includes(r.access.scope)) throw new AppError('insufficient_scope', `This call needs a token with the ${r.access.scope} scope`);
      return actor;
    }
  }
}

async function readBody(r: AnyRoute, deps: RouterDeps, ctx: RouteContext): Promise<unknown> {
  switch (r.body?.kind) {
    case undefined:
    case 'stream':
      return undefined;
    case 'json':
      return parseInput(r.body.schema, await readJson(ctx, deps.bodyLimit));
    case 'form': {
      if (!ctx.is('application/x-www-form-urlencoded')) throw new AppError('unsupported_media_type', 'Send the form as application/x-www-form-urlencoded');
      return parseInput(r.body.schema, await readParams(ctx, deps.bodyLimit));
    }
    case 'params':
      return parseInput(r.body.schema, await readParams(ctx, deps.bodyLimit));
  }
}

async function serve(r: AnyRoute, deps: RouterDeps, ctx: RouteContext, next: Next): Promise<void> {
  void next;
  const actor = await caller(r, deps, ctx);
  if (r.access.kind === 'session' && !actor) return; // sent to sign in
  ctx.state.actor = actor;
  if (r.limit) await deps.limits.take(r.limit, ctx.ip);
  for (const value of Object.values(ctx.params)) if (!plausibleParam.test(value)) throw new AppError('not_found', 'There is nothing at this address');
  const params = r.params ? parseInput(r.params, ctx.params) : ctx.params;
  // A browser form proves it came from this site before anything else is decided.
  let body: unknown = r.access.kind === 'session' && unsafe(ctx.method) ? await readForm(ctx, deps.bodyLimit) : undefined;
  if (body !== undefined) assertCsrf(actor!, (body as Record<string, unknown>)['_csrf'] ?? ctx.get('X-CSRF-Token'));
  const gate = r.gate && actor ? r.gate.check(actor, params as Record<string, string>, ctx) : undefined;
  const query = r.query ? parseInput(r.query, ctx.query) : {};
  // A call that takes no body refuses one rather than ignoring it: what was sent is not what is done.
  if (!r.body && r.access.kind !== 'session' && (ctx.get('Transfer-Encoding') || Number(ctx.get('Content-Length') || 0) > 0)) {
    throw new AppError('bad_request', 'This call takes no request body');
  }
  if (body !== undefined) {
    const { _csrf, ...fields } = body as Record<string, unknown>;
    void _csrf;
    body = r.body && r.body.kind !== 'stream' ? parseInput(r.body.schema, fields) : fields;
  } else {
    body = await readBody(r, deps, ctx);
  }
  const result = await r.handler({ actor, params, query, body, gate, ip: ctx.ip }, ctx);
  if (result !== undefined) {
    ctx.status = r.status ?? 200;
    ctx.body = result;
  } else if (ctx.body === undefined && ctx.status === 404) {
    ctx.status = r.status ?? 204;
  }
}
