/**
 * The privacy promises of DESIGN.md as two use cases: a person's export of everything held about
 * them, and a server admin's erase of a person. Each domain gives its part; the sharing domain adds
 * its own through a PersonalDataSource. Erase removes the personal data and keeps the people row as
 * a tombstone, so packets keep their author (shown as "former member").
 */
import type { AuditService } from '../audit/audit-service.ts';
import type { Clock } from '../clock.ts';
import type { Db } from '../db/open.ts';
import { AppError } from '../errors.ts';
import type { Actor } from '../http/authenticate.ts';
import { presentProfile } from '../identity/present.ts';
import type { IdentityService } from '../identity/service.ts';
import type { Log } from '../log.ts';
import type { OrganizationsService } from '../orgs/service.ts';

/** Another domain's part of a person's data: what it exports, and how it forgets them. */
export interface PersonalDataSource {
  /** The key of its part in the export, e.g. `models`. */
  name: string;
  exportFor(personId: string): unknown;
  /** Removes the person's personal data; runs inside the erase transaction, so it only writes rows. */
  erase(personId: string): void;
}

export interface PrivacyDeps {
  db: Db;
  clock: Clock;
  log: Log;
  audit: AuditService;
  identity: IdentityService;
  orgs: OrganizationsService;
}

export class PrivacyService {
  readonly #d: PrivacyDeps;
  readonly #sources: PersonalDataSource[] = [];

  constructor(deps: PrivacyDeps) {
    this.#d = deps;
  }

  addSource(source: PersonalDataSource): void {
    this.#sources.push(source);
  }

  /** Everything held about the caller, opened. */
  export(actor: Actor, source: string): Record<string, unknown> {
    const { identity, orgs, audit } = this.#d;
    const person = identity.people.get(actor.person.id)!;
    const id = person.id;
    audit.record({ action: 'privacy.export', outcome: 'allowed', actor: { id, email: person.email ?? undefined }, target: { type: 'person', id }, source });
    const memberships = orgs.repo.membershipsOf(id).map((m) => ({
      organization: { id: m.organizationId, name: orgs.repo.get(m.organizationId)!.name },
      role: m.role,
      sharing_enabled: m.sharingEnabled,
      joined_via: m.source,
      joined_at: m.createdAt,
    }));
    return {
      exported_at: this.#d.clock.now().toISOString(),
      person: { id, email: person.email, email_verified: person.emailVerified, name: person.name, server_admin: person.serverAdmin, created_at: person.createdAt, last_sign_in_at: person.lastSignInAt },
      profile: presentProfile(person, identity.profiles.get(id), { inlinePicture: true }),
      organizations: memberships,
      invitations: orgs.invitations.pendingFor(person),
      personal_tokens: identity.tokens.listPersonal(id),
      desktop_logins: identity.tokens.listLogins(id),
      sessions: identity.sessions.listFor(id),
      audit_events: audit.byActor(id),
      ...Object.fromEntries(this.#sources.map((s) => [s.name, s.exportFor(id)])),
    };
  }

  /**
   * Erases a person: sign-ins, tokens, profile, memberships and invitations go; the people row stays
   * without personal data; audit events keep what happened and the ids but lose their sealed details.
   */
  erase(actor: Actor, personId: string, source: string): { id: string; erased_at: string } {
    const { identity, orgs, audit, db } = this.#d;
    const person = identity.people.get(personId);
    const target = { type: 'person', id: personId };
    const actorRef = { id: actor.person.id, email: actor.person.email ?? undefined };
    if (!person || person.erasedAt) throw new AppError('not_found', 'There is no such person');
    if (personId === actor.person.id) {
      audit.record({ action: 'privacy.erase', outcome: 'denied', reason: 'self', actor: actorRef, target, source });
      throw new AppError('forbidden', 'You cannot erase yourself; ask another server admin');
    }
    db.transaction(() => {
      const invitationIds = orgs.erasePerson(personId, person.email);
      for (const s of this.#sources) s.erase(personId);
      identity.erase(personId);
      audit.forget(personId, invitationIds);
    }).immediate();
    // Recorded after the forgetting, so the erase itself keeps who did it.
    audit.record({ action: 'privacy.erase', outcome: 'allowed', actor: actorRef, target, source });
    // secure_delete overwrote the old values in the pages; a checkpoint moves them out of the WAL too.
    const [checkpoint] = db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number }[];
    if (checkpoint?.busy) this.#d.log.warn({ person: personId }, 'erase: the WAL checkpoint waited on readers; old pages leave the log at the next checkpoint');
    return { id: personId, erased_at: identity.people.get(personId)!.erasedAt! };
  }
}
