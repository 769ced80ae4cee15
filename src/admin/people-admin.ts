/**
 * What server admins do to people: list and search them, see a person's organizations, model roles,
 * sessions and tokens and why they are a server admin, sign them out everywhere, and block or
 * unblock them server-wide. A blocked person is refused at sign-in, on every session and every token
 * (identity/authenticator.ts); blocking also signs them out everywhere, so nothing they hold works
 * from that moment. Every change is audited.
 */
import { AppError } from '../errors.ts';
import type { Actor } from '../http/authenticate.ts';
import { PeopleList, type PeopleListQuery } from '../identity/people-list.ts';
import { normalizeEmail, type Person } from '../identity/people.ts';
import type { IdentityService } from '../identity/service.ts';
import type { OrganizationsService } from '../orgs/service.ts';
import type { ModelsRepo } from '../sharing/models-repo.ts';
import type { Db } from '../db/open.ts';
import type { Keyring } from '../crypto/keyring.ts';

export const breakGlassIssuer = 'urn:modelshare:break-glass';

/** Why a person is a server admin: the config's `auth.admins`, a provider admin group, or break-glass. */
export type AdminReason = 'config' | 'provider_group' | 'break_glass';

export interface PeopleAdminDeps {
  db: Db;
  keys: Keyring;
  identity: IdentityService;
  orgs: OrganizationsService;
  models: ModelsRepo;
  /** `auth.admins`: the addresses the config makes server admins. */
  configAdmins: readonly string[];
}

export class PeopleAdmin {
  readonly list: PeopleList;
  readonly #d: PeopleAdminDeps;
  readonly #configAdmins: Set<string>;

  constructor(deps: PeopleAdminDeps) {
    this.#d = deps;
    this.list = new PeopleList(deps.db, deps.keys, deps.identity.people);
    this.#configAdmins = new Set(deps.configAdmins.map(normalizeEmail));
  }

  /**
   * Why the person is a server admin, as far as this server can tell: the flag is decided at each
   * sign-in (from `auth.admins` or the provider's admin groups), so an address in `auth.admins` is
   * `config`, a person the command line made is `break_glass`, and any other flagged person got it
   * from a provider group.
   */
  adminReasons(person: Person): AdminReason[] {
    const reasons: AdminReason[] = [];
    const config = person.emailVerified && person.email !== null && this.#configAdmins.has(normalizeEmail(person.email));
    if (config) reasons.push('config');
    const breakGlass = this.#d.identity.people.issuerOf(person.id) === breakGlassIssuer || this.#d.identity.tokens.listAllOf(person.id).some((t) => t.kind === 'break_glass' && t.live);
    if (person.serverAdmin && !config && !breakGlass) reasons.push('provider_group');
    if (breakGlass) reasons.push('break_glass');
    return reasons;
  }

  page(query: PeopleListQuery) {
    return this.list.page(query);
  }

  get(personId: string): Person {
    const person = this.#d.identity.people.get(personId);
    if (!person || person.erasedAt) throw new AppError('not_found', 'There is no such person');
    return person;
  }

  /** The person's organizations with role and sharing switch. */
  organizationsOf(personId: string) {
    return this.#d.orgs.repo.membershipsOf(personId).flatMap((m) => {
      const org = this.#d.orgs.repo.get(m.organizationId);
      return org ? [{ id: org.id, name: org.name, role: m.role, sharing_enabled: m.sharingEnabled, joined_at: m.createdAt }] : [];
    });
  }

  /** Sessions, desktop logins and tokens: ids, kinds and times, never a secret. */
  credentialsOf(personId: string) {
    const { sessions, tokens } = this.#d.identity;
    return {
      sessions: sessions.listFor(personId),
      logins: tokens.listLogins(personId),
      tokens: tokens.listAllOf(personId),
    };
  }

  /** The person's model roles, a page at a time by model id. */
  modelRoles(personId: string, after: string, limit: number) {
    // Every model of theirs, whatever the sharing switches say: admins see the whole picture.
    const organizations = this.#d.models.organizationsOfMember(personId);
    return this.#d.models.listForPerson(personId, after, limit, { ids: organizations.filter((o): o is string => o !== null), outsideAny: true });
  }

  /**
   * Ends every browser session, desktop login and token of the person, and every desktop sign-in they
   * approved that the device has not collected yet. Open event streams close at their next check.
   */
  signOutEverywhere(actor: Actor, personId: string, source: string, reason = 'admin_sign_out') {
    const person = this.get(personId);
    const ended = this.#endEverything(person.id, reason);
    this.#d.orgs.record(actor.person, { action: 'person.sign_out_everywhere', outcome: 'allowed', reason, target: { type: 'person', id: person.id }, source, details: ended });
    return ended;
  }

  #endEverything(personId: string, reason: string) {
    const { sessions, tokens, devices } = this.#d.identity;
    const sessionCount = sessions.listFor(personId).length;
    sessions.removePerson(personId);
    const revoked = tokens.revokeAllOf(personId, reason);
    const requests = devices.denyApprovedOf(personId);
    this.#d.orgs.accessChanged({ personId, organizationId: null });
    return { sessions: sessionCount, logins: revoked.logins, tokens: revoked.tokens, device_requests: requests };
  }

  /** Blocks the person server-wide and signs them out everywhere. An admin cannot block themselves. */
  block(actor: Actor, personId: string, source: string): Person {
    const person = this.get(personId);
    if (person.id === actor.person.id) {
      this.#d.orgs.record(actor.person, { action: 'person.block', outcome: 'denied', reason: 'self', target: { type: 'person', id: person.id }, source });
      throw new AppError('conflict', 'You cannot block yourself');
    }
    const changed = this.#d.identity.people.setBlocked(person.id, actor.person.id);
    const ended = this.#endEverything(person.id, 'person_blocked');
    this.#d.orgs.record(actor.person, { action: 'person.block', outcome: 'allowed', reason: changed ? undefined : 'already_blocked', target: { type: 'person', id: person.id }, source, details: ended });
    return this.get(person.id);
  }

  unblock(actor: Actor, personId: string, source: string): Person {
    const person = this.get(personId);
    const changed = this.#d.identity.people.setBlocked(person.id, null);
    this.#d.orgs.record(actor.person, { action: 'person.unblock', outcome: 'allowed', reason: changed ? undefined : 'not_blocked', target: { type: 'person', id: person.id }, source });
    return this.get(person.id);
  }
}
