/** `/api/v1/me`: who am I, and my personal access tokens. */
import Router from '@koa/router';
import { actorOf, requireScope } from '../http/authenticate.ts';
import { readJson } from '../http/body.ts';
import type { AppState } from '../http/state.ts';
import { presentMe } from './present.ts';
import { createToken, parseInput } from './schema.ts';
import type { IdentityService } from './service.ts';

const day = 86_400_000;

export function meRouter(identity: IdentityService, options: { bodyLimit: number; tokenMaxLifetimeMs: number }) {
  const router = new Router<AppState>({ prefix: '/api/v1/me' });
  const tokenSchema = createToken(Math.floor(options.tokenMaxLifetimeMs / day));

  router.get('/', requireScope('read'), (ctx) => {
    ctx.body = presentMe(actorOf(ctx).person);
  });

  router.get('/tokens', requireScope('read'), (ctx) => {
    ctx.body = { tokens: identity.tokens.listPersonal(actorOf(ctx).person.id) };
  });

  router.post('/tokens', requireScope('write'), async (ctx) => {
    const input = parseInput(tokenSchema, await readJson(ctx, options.bodyLimit));
    const created = identity.createPersonalToken(actorOf(ctx), input.name, input.scopes, input.expires_in_days * day, ctx.ip);
    ctx.status = 201;
    ctx.body = created;
  });

  router.delete('/tokens/:id', requireScope('write'), (ctx) => {
    identity.revokePersonalToken(actorOf(ctx), ctx.params['id']!, ctx.ip);
    ctx.status = 204;
  });

  return router;
}
