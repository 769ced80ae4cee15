/**
 * Administration of organizations: server admins create and change organizations; organization
 * admins switch sharing for the organization and each member, manage roles and seats, and block
 * addresses. Callers have passed the route gates (`administeredBy`); every change is audited, and
 * every change that can cut access tells the open event streams at once.
 */
import { AppError } from '../errors.ts';
import type { Actor } from '../http/authenticate.ts';
import { normalizeEmail } from '../identity/people.ts';
import type { BlockKind } from './block-repo.ts';
import type { OrgRole } from './policy.ts';
import type { Organization, OrgSettings } from './repo.ts';
import type { OrganizationsService } from './service.ts';

export interface OrganizationInput {
  name: string;
  domains: string[];
  admin_groups: string[];
  seats: number;
}

export class OrganizationAdmin {
  readonly #orgs: OrganizationsService;

  constructor(orgs: OrganizationsService) {
    this.#orgs = orgs;
  }

  #target(org: Organization) {
    return { type: 'organization', id: org.id };
  }

  /** Every organization with its seat use, for server admins. */
  list(): { org: Organization; seatsUsed: number }[] {
    return this.#orgs.repo.all().map((org) => ({ org, seatsUsed: this.#orgs.repo.seatsUsed(org.id) }));
  }

  create(actor: Actor, input: OrganizationInput, source: string): Organization {
    const org = this.#orgs.repo.create(toSettings(input), input.seats);
    this.#orgs.record(actor.person, { action: 'org.create', outcome: 'allowed', target: this.#target(org), source, details: { seats: input.seats } });
    return org;
  }

  /** Changes an organization made through the API; one the config file declares is changed there. */
  update(actor: Actor, id: string, input: Partial<OrganizationInput>, source: string): Organization {
    const org = this.#orgs.repo.get(id);
    if (!org) throw new AppError('not_found', 'There is no such organization');
    if (org.configId) {
      this.#orgs.record(actor.person, { action: 'org.update', outcome: 'denied', reason: 'declared_in_config', target: this.#target(org), source });
      throw new AppError('conflict', `This organization is declared in the config file (organizations id ${org.configId}); change it there`);
    }
    const settings = toSettings({ name: org.name, domains: org.domains, admin_groups: org.adminGroups, seats: org.seats, ...input });
    const updated = this.#orgs.repo.update(id, settings, input.seats ?? org.seats);
    this.#orgs.record(actor.person, { action: 'org.update', outcome: 'allowed', target: this.#target(org), source, details: { fields: Object.keys(input) } });
    return updated;
  }

  /** The organization-wide switch. Turned back on, every member signs in again before sharing. */
  setSharing(actor: Actor, org: Organization, enabled: boolean, source: string): Organization {
    if (org.sharingEnabled !== enabled) this.#orgs.repo.setSharing(org.id, enabled);
    this.#orgs.record(actor.person, { action: enabled ? 'org.sharing_enable' : 'org.sharing_disable', outcome: 'allowed', target: this.#target(org), source });
    if (!enabled) this.#orgs.accessChanged({ personId: null, organizationId: org.id });
    return this.#orgs.repo.get(org.id)!;
  }

  seats(org: Organization): { seats: number; used: number; available: number } {
    const used = this.#orgs.repo.seatsUsed(org.id);
    return { seats: org.seats, used, available: Math.max(0, org.seats - used) };
  }

  /** Changes a member's role and/or sharing switch; admins do not change their own role. */
  updateMember(actor: Actor, org: Organization, personId: string, input: { role?: OrgRole | undefined; sharing_enabled?: boolean | undefined }, source: string) {
    const member = this.#orgs.repo.membership(org.id, personId);
    const target = { type: 'person', id: personId };
    const details = { organization_id: org.id, target_email: this.#orgs.identity.people.get(personId)?.email ?? undefined };
    if (!member) throw new AppError('not_found', 'There is no such member');
    if (input.role !== undefined && input.role !== member.role) {
      if (personId === actor.person.id) {
        this.#orgs.record(actor.person, { action: 'org.member_role', outcome: 'denied', reason: 'own_role', target, source, details });
        throw new AppError('forbidden', 'You cannot change your own role; ask another admin');
      }
      this.#orgs.repo.setRole(org.id, personId, input.role, 'admin');
      this.#orgs.record(actor.person, { action: 'org.member_role', outcome: 'allowed', target, source, details: { ...details, from: member.role, to: input.role } });
      this.#orgs.accessChanged({ personId, organizationId: org.id });
    }
    if (input.sharing_enabled !== undefined) {
      const action = input.sharing_enabled ? 'org.member_sharing_enable' : 'org.member_sharing_disable';
      const result = this.#orgs.repo.setMemberSharing(org.id, personId, input.sharing_enabled);
      if (result === 'no_seats_left') {
        const seats = this.seats(org);
        this.#orgs.record(actor.person, { action, outcome: 'denied', reason: 'no_seats_left', target, source, details });
        throw new AppError('no_seats_left', `All ${seats.seats} sharing seats of the organization are in use; turn sharing off for someone, or ask for more seats`, { extra: { seats: seats.seats, used: seats.used } });
      }
      this.#orgs.record(actor.person, { action, outcome: 'allowed', target, source, details });
      if (!input.sharing_enabled) this.#orgs.accessChanged({ personId, organizationId: org.id });
    }
    return this.#orgs.repo.membership(org.id, personId)!;
  }

  removeMember(actor: Actor, org: Organization, personId: string, source: string): void {
    const target = { type: 'person', id: personId };
    if (personId === actor.person.id) {
      this.#orgs.record(actor.person, { action: 'org.member_remove', outcome: 'denied', reason: 'self', target, source });
      throw new AppError('forbidden', 'You cannot remove yourself; ask another admin');
    }
    const email = this.#orgs.identity.people.get(personId)?.email ?? undefined;
    if (!this.#orgs.repo.removeMember(org.id, personId)) throw new AppError('not_found', 'There is no such member');
    this.#orgs.record(actor.person, { action: 'org.member_remove', outcome: 'allowed', target, source, details: { organization_id: org.id, target_email: email } });
    this.#orgs.accessChanged({ personId, organizationId: org.id });
  }

  /** Blocks an address or a whole domain (and its subdomains) in the organization. */
  block(actor: Actor, org: Organization, kind: BlockKind, rawValue: string, source: string) {
    const value = kind === 'address' ? normalizeEmail(rawValue) : rawValue.trim().toLowerCase().replace(/^@/, '');
    const { block, existed } = this.#orgs.blocks.add(org.id, kind, value, actor.person.id);
    this.#orgs.record(actor.person, { action: 'org.block', outcome: 'allowed', target: { type: 'block', id: block.id }, source, details: { organization_id: org.id, kind, value } });
    // Nobody can tell cheaply who a domain covers: every stream of the organization re-checks.
    this.#orgs.accessChanged({ personId: null, organizationId: org.id });
    return { block, existed };
  }

  /** Lifts a block; the people it covered sign in again through the provider before they share. */
  unblock(actor: Actor, org: Organization, blockId: string, source: string): void {
    const lifted = this.#orgs.blocks.lift(org.id, blockId);
    const target = { type: 'block', id: blockId };
    if (!lifted) throw new AppError('not_found', 'There is no such block');
    this.#orgs.record(actor.person, { action: 'org.unblock', outcome: 'allowed', target, source, details: { organization_id: org.id, kind: lifted.kind, value: lifted.value } });
  }
}

function toSettings(input: Omit<OrganizationInput, 'seats'>): OrgSettings {
  return { name: input.name, domains: input.domains.map((d) => d.toLowerCase()), adminGroups: input.admin_groups };
}
