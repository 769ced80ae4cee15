/**
 * Organizations: members from the provider's claims at each sign-in, the decision whether a person
 * may share right now (the SharingGate of the sharing domain), and the gates of the organization
 * routes. Administration is in org-admin.ts and invitations in invitation-service.ts; all three share
 * the repositories and the audit helper made here.
 */
import type { AuditService } from '../audit/audit-service.ts';
import type { Clock } from '../clock.ts';
import type { Keyring } from '../crypto/keyring.ts';
import type { Db } from '../db/open.ts';
import { AppError, type ErrorCode } from '../errors.ts';
import type { Actor } from '../http/authenticate.ts';
import type { Person } from '../identity/people.ts';
import { normalizeEmail } from '../identity/people.ts';
import type { MeStatus } from '../identity/present.ts';
import type { IdentityService } from '../identity/service.ts';
import type { Log } from '../log.ts';
import type { Mailer } from '../mail/mailer.ts';
import { BlockRepo } from './block-repo.ts';
import { InvitationRepo } from './invitation-repo.ts';
import { InvitationService, type InvitationLimits } from './invitation-service.ts';
import { OrganizationAdmin } from './org-admin.ts';
import { policy, type OrgRole } from './policy.ts';
import { OrgsRepo, type Membership, type Organization } from './repo.ts';
import type { SharingGate } from './sharing-gate.ts';

/** An organization as the config file declares it. */
export interface DeclaredOrganization {
  id: string;
  name: string;
  domains: readonly string[];
  admin_groups: readonly string[];
  seats: number;
}

export interface OrgsDeps {
  db: Db;
  keys: Keyring;
  clock: Clock;
  log: Log;
  audit: AuditService;
  identity: IdentityService;
  /** The organizations of the config file; undefined leaves them as they are (commands that do not serve). */
  declared: readonly DeclaredOrganization[] | undefined;
  invitations: InvitationLimits;
  mailer: Mailer | undefined;
  publicUrl: string;
}

export type AccessChange = { personId: string | null; organizationId: string | null };

/** What one audited organization action says; the actor's e-mail is added from the actor. */
export interface OrgAuditEntry {
  action: string;
  outcome: 'allowed' | 'denied' | 'failed';
  target?: { type: string; id: string } | undefined;
  reason?: string | undefined;
  source: string;
  details?: Record<string, unknown> | undefined;
}

const refusalDetail: Partial<Record<ErrorCode, string>> = {
  email_unverified: 'Your sign-in provider does not vouch for your e-mail address, so you may not share',
  blocked: 'Your address is blocked by the organization',
  sharing_disabled: 'Sharing is turned off for you here; ask an organization admin',
  reverification_required: 'Sharing was turned back on for you: sign in again through your provider (in a browser) first',
};

export class OrganizationsService implements SharingGate {
  readonly repo: OrgsRepo;
  readonly blocks: BlockRepo;
  readonly admin: OrganizationAdmin;
  readonly invitations: InvitationService;
  readonly identity: IdentityService;
  readonly #audit: AuditService;
  readonly #log: Log;
  readonly #listeners = new Set<(change: AccessChange) => void>();

  constructor(deps: OrgsDeps) {
    this.repo = new OrgsRepo(deps.db, deps.keys, deps.clock);
    this.blocks = new BlockRepo(deps.db, deps.keys, deps.clock);
    this.identity = deps.identity;
    this.#audit = deps.audit;
    this.#log = deps.log;
    this.admin = new OrganizationAdmin(this);
    const invitations = new InvitationRepo(deps.db, deps.keys, deps.clock);
    this.invitations = new InvitationService(this, invitations, { clock: deps.clock, log: deps.log, limits: deps.invitations, mailer: deps.mailer, publicUrl: deps.publicUrl });
    if (deps.declared) this.#syncDeclared(deps.declared);
  }

  /** The config file owns the organizations it declares: created, or brought in line, at every start. */
  #syncDeclared(declared: readonly DeclaredOrganization[]): void {
    const ids = new Set(declared.map((d) => d.id));
    for (const d of declared) {
      const settings = { name: d.name, domains: d.domains.map((x) => x.toLowerCase()), adminGroups: [...d.admin_groups] };
      const existing = this.repo.byConfigId(d.id);
      if (!existing) this.repo.create(settings, d.seats, d.id);
      else if (JSON.stringify([existing.name, existing.domains, existing.adminGroups, existing.seats]) !== JSON.stringify([settings.name, settings.domains, settings.adminGroups, d.seats])) {
        this.repo.update(existing.id, settings, d.seats);
      }
    }
    for (const org of this.repo.all()) {
      if (org.configId && !ids.has(org.configId)) {
        this.repo.releaseFromConfig(org.id);
        this.#log.warn({ organization: org.id, config_id: org.configId }, 'an organization is no longer in the config file; it is kept, and managed through the admin API from now on');
      }
    }
  }

  /** Audits an organization action with the actor's id and e-mail. */
  record(actor: Person | undefined, entry: OrgAuditEntry): void {
    this.#audit.record({ ...entry, actor: actor ? { id: actor.id, email: actor.email ?? undefined } : undefined });
  }

  /** Tells the listeners (open event streams) that access may have been cut. */
  accessChanged(change: AccessChange): void {
    for (const listener of this.#listeners) {
      try {
        listener(change);
      } catch (error) {
        this.#log.error({ err: error }, 'an access-change listener failed');
      }
    }
  }

  onAccessChanged(listener: (change: AccessChange) => void): () => void {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }

  /**
   * A completed sign-in: the claims decide membership in each organization. Claims add members
   * (admin by group, member by verified domain) and raise a partner to employee; a membership that
   * came from claims follows them, and goes when they no longer give it. A blocked address does not join.
   */
  recordSignIn(person: Person, groups: readonly string[], source: string): void {
    for (const org of this.repo.all()) {
      const claimed = policy.roleFromClaims(org, person.email, person.emailVerified, groups);
      const current = this.repo.membership(org.id, person.id);
      const target = { type: 'organization', id: org.id };
      if (claimed && !current) {
        if (person.email && this.blocks.covering(org.id, person.email).active) {
          this.record(person, { action: 'org.member_join', outcome: 'denied', reason: 'blocked', target, source, details: { via: 'claims' } });
          continue;
        }
        const added = this.repo.addMember(org.id, person.id, claimed, 'claims');
        this.record(person, { action: 'org.member_join', outcome: 'allowed', target, source, details: { via: 'claims', role: claimed, sharing_enabled: added.sharingEnabled } });
      } else if (claimed && current && claimed !== current.role && (current.source === 'claims' || policy.outranks(claimed, current.role))) {
        this.repo.setRole(org.id, person.id, claimed, 'claims');
        this.record(person, { action: 'org.member_role', outcome: 'allowed', target, source, details: { via: 'claims', from: current.role, to: claimed } });
        this.accessChanged({ personId: person.id, organizationId: org.id });
      } else if (!claimed && current?.source === 'claims') {
        this.repo.removeMember(org.id, person.id);
        this.record(person, { action: 'org.member_remove', outcome: 'allowed', reason: 'claims', target, source, details: { role: current.role } });
        this.accessChanged({ personId: person.id, organizationId: org.id });
      }
    }
  }

  /**
   * A provider asked again at a token refresh no longer vouches for the person at all: every
   * membership its claims gave goes, as when a sign-in's claims stop giving it (and so the person is
   * listed among those who left). Memberships from an invitation or an admin stay.
   */
  recordProviderWithdrawal(person: Person, provider: string, source: string): void {
    for (const org of this.repo.all()) {
      const current = this.repo.membership(org.id, person.id);
      if (current?.source !== 'claims') continue;
      this.repo.removeMember(org.id, person.id);
      this.record(person, { action: 'org.member_remove', outcome: 'allowed', reason: 'claims', target: { type: 'organization', id: org.id }, source, details: { role: current.role, via: 'token_refresh', provider } });
      this.accessChanged({ personId: person.id, organizationId: org.id });
    }
  }

  /** Why the person may not share in the organization now, or null. */
  #refusal(person: Person, org: Organization, membership: Membership | undefined): ErrorCode | null {
    return policy.sharingRefusal({
      emailVerified: person.emailVerified,
      lastSignInAt: person.lastSignInAt,
      organization: org,
      membership,
      block: person.email ? this.blocks.covering(org.id, person.email) : { active: false, liftedAt: null },
    });
  }

  /**
   * Outside any organization (null), a person shares through any organization that lets them; one
   * who belongs to none may share only on a single-team install, where no organization exists.
   */
  #refusalFor(person: Person, organizationId: string | null): ErrorCode | null {
    if (!person.emailVerified) return 'email_unverified';
    if (organizationId === null) {
      const memberships = this.repo.membershipsOf(person.id);
      if (memberships.length === 0) return this.repo.any() ? 'sharing_disabled' : null;
      const refusals = memberships.map((m) => this.#refusal(person, this.repo.get(m.organizationId)!, m));
      return refusals.includes(null) ? null : refusals[0]!;
    }
    const org = this.repo.get(organizationId);
    if (!org) return 'sharing_disabled';
    return this.#refusal(person, org, this.repo.membership(org.id, person.id));
  }

  assertMayShare(person: Person, organizationId: string | null): void {
    const code = this.#refusalFor(person, organizationId);
    if (code) throw new AppError(code, refusalDetail[code]);
  }

  organizationForNewModel(person: Person, requested: string | undefined): string | null {
    if (requested !== undefined) {
      if (!this.repo.membership(requested, person.id)) throw new AppError('not_found', 'There is no such organization');
      return requested;
    }
    // The organization the person works for; failing that, a partner shares for the organization that
    // admitted them, so its admins see the model and its switches, blocks and seats apply to it.
    const memberships = this.repo.membershipsOf(person.id);
    const own = memberships.filter((m) => m.role !== 'partner');
    const candidates = own.length > 0 ? own : memberships;
    if (candidates.length > 1) throw new AppError('validation_failed', 'You belong to several organizations: say which one with organization_id');
    return candidates[0]?.organizationId ?? null;
  }

  isOrganizationAdmin(personId: string, organizationId: string): boolean {
    return this.repo.membership(organizationId, personId)?.role === 'admin';
  }

  assertMayInvite(organizationId: string | null, email: string): void {
    if (organizationId !== null && this.blocks.covering(organizationId, normalizeEmail(email)).active) {
      throw new AppError('blocked', 'The organization refuses invitations to this address');
    }
  }

  /** For `GET /api/v1/me`: each organization with role and whether the person may share there now. */
  statusOf(person: Person): MeStatus {
    const organizations = this.repo.membershipsOf(person.id).map((m) => {
      const org = this.repo.get(m.organizationId)!;
      const refusal = this.#refusal(person, org, m);
      return { id: org.id, name: org.name, role: m.role, sharing_enabled: refusal === null, sharing_refusal: refusal };
    });
    return {
      sharing_enabled: this.#refusalFor(person, null) === null,
      organizations,
      pending_invitations: this.invitations.pendingFor(person).length,
    };
  }

  /** The organization, for a caller who belongs to it (or a server admin); to anyone else it does not exist. */
  visibleTo(actor: Actor, organizationId: string): { org: Organization; membership: Membership | undefined } {
    const org = this.repo.get(organizationId);
    const membership = org ? this.repo.membership(org.id, actor.person.id) : undefined;
    if (!org || (!membership && !isServerAdmin(actor))) throw new AppError('not_found', 'There is no such organization');
    return { org, membership };
  }

  /** The organization, for its admins (and server admins); a member gets 403, anyone else 404. */
  administeredBy(actor: Actor, organizationId: string): Organization {
    const { org, membership } = this.visibleTo(actor, organizationId);
    if (membership?.role !== 'admin' && !isServerAdmin(actor)) throw new AppError('forbidden', 'Only admins of the organization may do this');
    return org;
  }

  /**
   * Makes the person a partner of the organization (an accepted invitation, to it or to one of its
   * models), unless they already belong to it; sharing is turned on when a seat is free.
   */
  admitPartner(person: Person, organizationId: string, source: string): void {
    this.joinAsPartner(person, organizationId, source, 'model_invitation');
  }

  joinAsPartner(person: Person, organizationId: string, source: string, via: string): Membership {
    const current = this.repo.membership(organizationId, person.id);
    if (current) return current;
    const added = this.repo.addMember(organizationId, person.id, 'partner' satisfies OrgRole, 'invitation');
    this.record(person, { action: 'org.member_join', outcome: 'allowed', target: { type: 'organization', id: organizationId }, source, details: { via, role: 'partner', sharing_enabled: added.sharingEnabled } });
    return added;
  }

  /** Erase, the organizations' part: memberships and invitations to the address. Returns the invitation ids. */
  erasePerson(personId: string, email: string | null): string[] {
    this.repo.removePerson(personId);
    const ids = email ? this.invitations.removeFor(email) : [];
    this.accessChanged({ personId, organizationId: null });
    return ids;
  }
}

/** A server admin acting with admin rights (a session, or a token with the admin scope). */
export function isServerAdmin(actor: Actor): boolean {
  return actor.person.serverAdmin && actor.scopes.includes('admin');
}
