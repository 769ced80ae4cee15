/** `/api/v1/me`: who am I, my profile, and my personal access tokens. */
import Router from '@koa/router';
import { actorOf, requireScope } from '../http/authenticate.ts';
import { readJson } from '../http/body.ts';
import type { AppState } from '../http/state.ts';
import { parseInput } from '../http/input.ts';
import type { Person } from './people.ts';
import { presentMe, presentProfile, type MeStatus } from './present.ts';
import {createToken, profilePatch} from './schema.ts';
import type { IdentityService } from './service.ts';

const day = 86_400_000;

export interface MeRouteOptions {
  bodyLimit: number;
  tokenMaxLifetimeMs: number;
  /** Organizations' view of the caller (memberships, sharing, invitations waiting). */
  statusOf: (person: Person) => MeStatus;
}

export function meRouter(identity: IdentityService, options: MeRouteOptions) {
  const router = new Router<AppState>({ prefix: '/api/v1/me' });
  const tokenSchema = createToken(Math.floor(options.tokenMaxLifetimeMs / day));

  router.get('/', requireScope('read'), (ctx) => {
    const { person } = actorOf(ctx);
    ctx.body = presentMe(person, identity.profiles.get(person.id), options.statusOf(person));
  });

  router.patch('/', requireScope('write'), async (ctx) => {
    const input = parseInput(profilePatch, await readJson(ctx, options.bodyLimit));
    const actor = actorOf(ctx);
    const profile = identity.updateProfile(actor, input, ctx.ip);
    ctx.body = presentProfile(actor.person, profile);
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
