/**
 * The organizations and memberships tables. Name, domains and admin groups of an organization are
 * sealed as one value; seats are taken and given back inside IMMEDIATE transactions, so concurrent
 * enable calls can never use more seats than there are.
 */
import crypto from 'node:crypto';
import type { Clock } from '../clock.ts';
import type { Keyring } from '../crypto/keyring.ts';
import { openText, seal } from '../crypto/sealed.ts';
import type { Db } from '../db/open.ts';
import type { OrgRole } from './policy.ts';

export interface OrgSettings {
  name: string;
  domains: string[];
  adminGroups: string[];
}

export interface Organization extends OrgSettings {
  id: string;
  /** Set for an organization the config file declares (and so owns). */
  configId: string | null;
  seats: number;
  sharingEnabled: boolean;
  reverifyAfter: string | null;
  createdAt: string;
  updatedAt: string;
}

export type MembershipSource = 'claims' | 'invitation' | 'admin';

export interface Membership {
  organizationId: string;
  personId: string;
  role: OrgRole;
  source: MembershipSource;
  sharingEnabled: boolean;
  reverifyAfter: string | null;
  createdAt: string;
}

interface OrgRow {
  id: string;
  config_id: string | null;
  settings_sealed: Buffer;
  seats: number;
  sharing_enabled: number;
  reverify_after: string | null;
  created_at: string;
  updated_at: string;
}

interface MembershipRow {
  organization_id: string;
  person_id: string;
  role: OrgRole;
  source: MembershipSource;
  sharing_enabled: number;
  reverify_after: string | null;
  created_at: string;
}

const toMembership = (r: MembershipRow): Membership => ({
  organizationId: r.organization_id,
  personId: r.person_id,
  role: r.role,
  source: r.source,
  sharingEnabled: r.sharing_enabled === 1,
  reverifyAfter: r.reverify_after,
  createdAt: r.created_at,
});

export class OrgsRepo {
  readonly #db: Db;
  readonly #keys: Keyring;
  readonly #clock: Clock;
  readonly #keyId: string;
  readonly #sql;

  constructor(db: Db, keys: Keyring, clock: Clock) {
    this.#db = db;
    this.#keys = keys;
    this.#clock = clock;
    this.#keyId = keys.singleton('personal');
    this.#sql = {
      all: db.prepare<[], OrgRow>('SELECT * FROM organizations ORDER BY created_at, id'),
      byId: db.prepare<[string], OrgRow>('SELECT * FROM organizations WHERE id = ?'),
      byConfigId: db.prepare<[string], OrgRow>('SELECT * FROM organizations WHERE config_id = ?'),
      count: db.prepare<[], { n: number }>('SELECT count(*) AS n FROM organizations'),
      insert: db.prepare('INSERT INTO organizations (id, config_id, settings_sealed, seats, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)'),
      update: db.prepare('UPDATE organizations SET settings_sealed = ?, seats = ?, updated_at = ? WHERE id = ?'),
      releaseConfigId: db.prepare('UPDATE organizations SET config_id = NULL, updated_at = ? WHERE id = ?'),
      setSharing: db.prepare('UPDATE organizations SET sharing_enabled = ?, reverify_after = coalesce(?, reverify_after), updated_at = ? WHERE id = ?'),
      membership: db.prepare<[string, string], MembershipRow>('SELECT * FROM memberships WHERE organization_id = ? AND person_id = ?'),
      ofPerson: db.prepare<[string], MembershipRow>('SELECT * FROM memberships WHERE person_id = ? ORDER BY created_at, organization_id'),
      ofOrganization: db.prepare<[string], MembershipRow>('SELECT * FROM memberships WHERE organization_id = ? ORDER BY created_at, person_id'),
      pageOfOrganization: db.prepare<[string, string, string, string, number], MembershipRow>(
        'SELECT * FROM memberships WHERE organization_id = ? AND (created_at > ? OR (created_at = ? AND person_id > ?)) ORDER BY created_at, person_id LIMIT ?',
      ),
      insertMember: db.prepare(
        'INSERT INTO memberships (organization_id, person_id, role, source, sharing_enabled, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      setRole: db.prepare('UPDATE memberships SET role = ?, source = ?, updated_at = ? WHERE organization_id = ? AND person_id = ?'),
      setMemberSharing: db.prepare(
        'UPDATE memberships SET sharing_enabled = ?, reverify_after = coalesce(?, reverify_after), updated_at = ? WHERE organization_id = ? AND person_id = ?',
      ),
      deleteMember: db.prepare('DELETE FROM memberships WHERE organization_id = ? AND person_id = ?'),
      deleteMembersOf: db.prepare('DELETE FROM memberships WHERE person_id = ?'),
      seatsUsed: db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM memberships WHERE organization_id = ? AND sharing_enabled = 1'),
    };
  }

  #sealSettings(id: string, s: OrgSettings): Buffer {
    const value = JSON.stringify({ name: s.name, domains: s.domains, admin_groups: s.adminGroups });
    return seal(this.#keys, this.#keyId, { table: 'organizations', column: 'settings', row: id }, value);
  }

  #open(row: OrgRow): Organization {
    const s = JSON.parse(openText(this.#keys, { table: 'organizations', column: 'settings', row: row.id }, row.settings_sealed)) as {
      name: string;
      domains: string[];
      admin_groups: string[];
    };
    return {
      id: row.id,
      configId: row.config_id,
      name: s.name,
      domains: s.domains,
      adminGroups: s.admin_groups,
      seats: row.seats,
      sharingEnabled: row.sharing_enabled === 1,
      reverifyAfter: row.reverify_after,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    };
  }

  #now(): string {
    return this.#clock.now().toISOString();
  }

  all(): Organization[] {
    return this.#sql.all.all().map((r) => this.#open(r));
  }

  get(id: string): Organization | undefined {
    const row = this.#sql.byId.get(id);
    return row ? this.#open(row) : undefined;
  }

  byConfigId(configId: string): Organization | undefined {
    const row = this.#sql.byConfigId.get(configId);
    return row ? this.#open(row) : undefined;
  }

  /** True when at least one organization exists (a single-team install has none). */
  any(): boolean {
    return this.#sql.count.get()!.n > 0;
  }

  create(settings: OrgSettings, seats: number, configId: string | null = null): Organization {
    const id = `org_${crypto.randomBytes(12).toString('hex')}`;
    const now = this.#now();
    this.#sql.insert.run(id, configId, this.#sealSettings(id, settings), seats, now, now);
    return this.get(id)!;
  }

  update(id: string, settings: OrgSettings, seats: number): Organization {
    this.#sql.update.run(this.#sealSettings(id, settings), seats, this.#now(), id);
    return this.get(id)!;
  }

  /** The file no longer declares it: it stays, with its members, and is managed through the API from now on. */
  releaseFromConfig(id: string): void {
    this.#sql.releaseConfigId.run(this.#now(), id);
  }

  /** The organization-wide switch; turning it back on asks every member to sign in again first. */
  setSharing(id: string, enabled: boolean): void {
    const now = this.#now();
    this.#sql.setSharing.run(enabled ? 1 : 0, enabled ? now : null, now, id);
  }

  membership(organizationId: string, personId: string): Membership | undefined {
    const row = this.#sql.membership.get(organizationId, personId);
    return row ? toMembership(row) : undefined;
  }

  membershipsOf(personId: string): Membership[] {
    return this.#sql.ofPerson.all(personId).map(toMembership);
  }

  members(organizationId: string): Membership[] {
    return this.#sql.ofOrganization.all(organizationId).map(toMembership);
  }

  /** One page of the members, in joining order, after the member `after` (created_at and person id). */
  membersPage(organizationId: string, after: { createdAt: string; personId: string } | undefined, limit: number): Membership[] {
    const a = after ?? { createdAt: '', personId: '' };
    return this.#sql.pageOfOrganization.all(organizationId, a.createdAt, a.createdAt, a.personId, limit).map(toMembership);
  }

  seatsUsed(organizationId: string): number {
    return this.#sql.seatsUsed.get(organizationId)!.n;
  }

  /** Adds a member; sharing is turned on for them when a seat is free. */
  addMember(organizationId: string, personId: string, role: OrgRole, source: MembershipSource): Membership {
    return this.#db.transaction(() => {
      const org = this.#sql.byId.get(organizationId)!;
      const seat = this.#sql.seatsUsed.get(organizationId)!.n < org.seats ? 1 : 0;
      const now = this.#now();
      this.#sql.insertMember.run(organizationId, personId, role, source, seat, now, now);
      return toMembership(this.#sql.membership.get(organizationId, personId)!);
    }).immediate();
  }

  setRole(organizationId: string, personId: string, role: OrgRole, source: MembershipSource): void {
    this.#sql.setRole.run(role, source, this.#now(), organizationId, personId);
  }

  /**
   * Turns sharing on (taking a seat, if one is free) or off (giving it back) for a member. Turning it
   * back on asks the person to sign in again first.
   */
  setMemberSharing(organizationId: string, personId: string, enabled: boolean): 'done' | 'unchanged' | 'no_seats_left' | 'not_member' {
    return this.#db.transaction(() => {
      const row = this.#sql.membership.get(organizationId, personId);
      if (!row) return 'not_member';
      if ((row.sharing_enabled === 1) === enabled) return 'unchanged';
      if (enabled && this.#sql.seatsUsed.get(organizationId)!.n >= this.#sql.byId.get(organizationId)!.seats) return 'no_seats_left';
      const now = this.#now();
      this.#sql.setMemberSharing.run(enabled ? 1 : 0, enabled ? now : null, now, organizationId, personId);
      return 'done';
    }).immediate();
  }

  removeMember(organizationId: string, personId: string): boolean {
    return this.#sql.deleteMember.run(organizationId, personId).changes === 1;
  }

  /** Erase: every membership of the person goes. */
  removePerson(personId: string): number {
    return this.#sql.deleteMembersOf.run(personId).changes;
  }
}
