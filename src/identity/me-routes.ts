/** `/api/v1/me` as its part of the route table: who am I, my profile, and my personal access tokens. */
import { z } from 'zod';
import { AppError } from '../errors.ts';
import { access, route, type AnyRoute } from '../http/route-table.ts';
import type { Person } from './people.ts';
import { presentMe, presentProfile, type MeStatus } from './present.ts';
import { createToken, profilePatch } from './schema.ts';
import type { IdentityService } from './service.ts';

const day = 86_400_000;

export interface MeRouteOptions {
  tokenMaxLifetimeMs: number;
  /** Organizations' view of the caller (memberships, sharing, invitations waiting). */
  statusOf: (person: Person) => MeStatus;
}

export function meRoutes(identity: IdentityService, options: MeRouteOptions): AnyRoute[] {
  const tokenSchema = createToken(Math.floor(options.tokenMaxLifetimeMs / day));
  return [
    route({
      method: 'GET', path: '/api/v1/me', summary: 'The caller, their profile and organizations', access: access.token('read'),
      handler: ({ actor }) => presentMe(actor.person, identity.profiles.get(actor.person.id), options.statusOf(actor.person)),
    }),
    route({
      method: 'PATCH', path: '/api/v1/me', summary: "Change the caller's profile", access: access.token('write'), body: { kind: 'json', schema: profilePatch },
      handler: ({ actor, body, ip }) => presentProfile(actor.person, identity.updateProfile(actor, body, ip)),
    }),
    route({
      method: 'GET', path: '/api/v1/me/tokens', summary: "The caller's personal access tokens", access: access.token('read'),
      handler: ({ actor }) => ({ tokens: identity.tokens.listPersonal(actor.person.id) }),
    }),
    route({
      method: 'POST', path: '/api/v1/me/tokens', summary: 'Create a personal access token (shown once)', access: access.token('write'), body: { kind: 'json', schema: tokenSchema }, status: 201,
      handler: ({ actor, body, ip }) => {
        // Nothing mints a token wider than the one that asked.
        const wider = body.scopes.filter((s) => !actor.scopes.includes(s));
        if (wider.length > 0) throw new AppError('insufficient_scope', `This token cannot create a token with the ${wider.join(', ')} scope`);
        return identity.createPersonalToken(actor, body.name, body.scopes, body.expires_in_days * day, ip);
      },
    }),
    route({
      method: 'DELETE', path: '/api/v1/me/tokens/:id', summary: 'Revoke one of the caller’s personal access tokens', access: access.token('write'), params: z.object({ id: z.string() }),
      handler: ({ actor, params, ip }) => void identity.revokePersonalToken(actor, params.id, ip),
    }),
  ];
}
