/** Turns bearer tokens and session cookies into actors, for the router's access check. */
import type { AuditService } from '../audit/audit-service.ts';
import type { Authenticator } from '../http/authenticate.ts';
import type { IdentityService } from './service.ts';
import { allScopes } from './tokens.ts';

export function identityAuthenticator(identity: IdentityService, audit: AuditService): Authenticator {
  return {
    bearer(token, ctx) {
      const grant = identity.tokens.authenticate(token);
      const person = grant ? identity.people.get(grant.personId) : undefined;
      // A bad token is audited by the router, once per window and address (see http/limits.ts).
      // A person blocked server-wide has every token refused, break-glass included.
      if (!grant || !person || person.blockedAt) return undefined;
      if (grant.kind === 'break_glass') {
        audit.record({ action: 'auth.break_glass_used', outcome: 'allowed', actor: { id: person.id, email: person.email ?? undefined }, source: ctx.ip, details: { method: ctx.method, path: ctx.path } });
        return { person: { ...person, serverAdmin: true }, scopes: grant.scopes, via: 'break_glass', tokenId: grant.tokenId };
      }
      return { person, scopes: grant.scopes, via: grant.kind === 'access' ? 'access_token' : 'personal', tokenId: grant.tokenId };
    },
    session(secret) {
      const session = identity.sessions.find(secret);
      const person = session ? identity.people.get(session.personId) : undefined;
      if (!session || !person || person.blockedAt) return undefined;
      return { person, scopes: allScopes, via: 'session', sessionId: session.id, csrfToken: session.csrfToken };
    },
    stillValid(actor) {
      if (identity.people.get(actor.person.id)?.blockedAt) return false;
      if (actor.tokenId) return identity.tokens.live(actor.tokenId);
      if (actor.sessionId) return identity.sessions.live(actor.sessionId);
      return false;
    },
  };
}
