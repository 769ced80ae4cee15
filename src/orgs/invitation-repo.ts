/**
 * The organization_invitations table. The invited address is sealed and found by the same blind
 * index as people's addresses (`people.email`), so a person sees what was sent to their address.
 */
import crypto from 'node:crypto';
import type { Clock } from '../clock.ts';
import type { Keyring } from '../crypto/keyring.ts';
import { openText, seal } from '../crypto/sealed.ts';
import type { Db } from '../db/open.ts';
import { emailIndex } from '../identity/people.ts';

export type InvitationStatus = 'pending' | 'accepted' | 'declined' | 'revoked';

export interface OrgInvitation {
  id: string;
  organizationId: string;
  email: string;
  role: 'partner';
  invitedBy: string;
  status: InvitationStatus;
  createdAt: string;
  expiresAt: string;
}

interface InvitationRow {
  id: string;
  organization_id: string;
  email_sealed: Buffer;
  role: 'partner';
  invited_by: string;
  status: InvitationStatus;
  created_at: string;
  expires_at: string;
}

export class InvitationRepo {
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
    const pending = "status = 'pending' AND expires_at > ?";
    this.#sql = {
      insert: db.prepare(
        'INSERT INTO organization_invitations (id, organization_id, email_index, email_sealed, role, invited_by, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      byId: db.prepare<[string], InvitationRow>('SELECT * FROM organization_invitations WHERE id = ?'),
      pendingFor: db.prepare<[Buffer, string], InvitationRow>(`SELECT * FROM organization_invitations WHERE email_index = ? AND ${pending} ORDER BY created_at DESC, id`),
      countPendingFor: db.prepare<[Buffer, string], { n: number }>(`SELECT count(*) AS n FROM organization_invitations WHERE email_index = ? AND ${pending}`),
      pendingInOrgFor: db.prepare<[string, Buffer, string], InvitationRow>(
        `SELECT * FROM organization_invitations WHERE organization_id = ? AND email_index = ? AND ${pending}`,
      ),
      pendingOfOrg: db.prepare<[string, string], InvitationRow>(`SELECT * FROM organization_invitations WHERE organization_id = ? AND ${pending} ORDER BY created_at DESC, id`),
      countSentSince: db.prepare<[string, string], { n: number }>('SELECT count(*) AS n FROM organization_invitations WHERE invited_by = ? AND created_at > ?'),
      decide: db.prepare("UPDATE organization_invitations SET status = ?, decided_at = ? WHERE id = ? AND status = 'pending'"),
      idsFor: db.prepare<[Buffer], { id: string }>('SELECT id FROM organization_invitations WHERE email_index = ?'),
      deleteFor: db.prepare('DELETE FROM organization_invitations WHERE email_index = ?'),
      purge: db.prepare("DELETE FROM organization_invitations WHERE expires_at < ? OR (status <> 'pending' AND decided_at < ?)"),
    };
  }

  /** The blind index of an address, the same one people.email uses. */
  emailIndex(email: string): Buffer {
    return emailIndex(this.#keys, email);
  }

  #open(row: InvitationRow): OrgInvitation {
    return {
      id: row.id,
      organizationId: row.organization_id,
      email: openText(this.#keys, { table: 'organization_invitations', column: 'email', row: row.id }, row.email_sealed),
      role: row.role,
      invitedBy: row.invited_by,
      status: row.status,
      createdAt: row.created_at,
      expiresAt: row.expires_at,
    };
  }

  #now(): string {
    return this.#clock.now().toISOString();
  }

  create(organizationId: string, email: string, invitedBy: string, lifetimeMs: number): OrgInvitation {
    const id = `inv_${crypto.randomBytes(12).toString('hex')}`;
    const now = this.#clock.now();
    const sealed = seal(this.#keys, this.#keyId, { table: 'organization_invitations', column: 'email', row: id }, email);
    this.#sql.insert.run(id, organizationId, this.emailIndex(email), sealed, 'partner', invitedBy, now.toISOString(), new Date(now.getTime() + lifetimeMs).toISOString());
    return this.get(id)!;
  }

  get(id: string): OrgInvitation | undefined {
    const row = this.#sql.byId.get(id);
    return row ? this.#open(row) : undefined;
  }

  /** Pending, unexpired invitations to an address, newest first. */
  pendingFor(email: string): OrgInvitation[] {
    return this.#sql.pendingFor.all(this.emailIndex(email), this.#now()).map((r) => this.#open(r));
  }

  countPendingFor(email: string): number {
    return this.#sql.countPendingFor.get(this.emailIndex(email), this.#now())!.n;
  }

  pendingInOrganizationFor(organizationId: string, email: string): OrgInvitation | undefined {
    const row = this.#sql.pendingInOrgFor.get(organizationId, this.emailIndex(email), this.#now());
    return row ? this.#open(row) : undefined;
  }

  pendingOf(organizationId: string): OrgInvitation[] {
    return this.#sql.pendingOfOrg.all(organizationId, this.#now()).map((r) => this.#open(r));
  }

  /** Invitations the person sent after `since`, whatever became of them (the hourly cap counts sending). */
  countSentSince(personId: string, since: Date): number {
    return this.#sql.countSentSince.get(personId, since.toISOString())!.n;
  }

  /** Answers or revokes a pending invitation; false when it was no longer pending. */
  decide(id: string, status: Exclude<InvitationStatus, 'pending'>): boolean {
    return this.#sql.decide.run(status, this.#now(), id).changes === 1;
  }

  /** Erase: every invitation to the address goes; returns their ids (their audit rows are forgotten too). */
  removeFor(email: string): string[] {
    const index = this.emailIndex(email);
    return this.#db.transaction(() => {
      const ids = this.#sql.idsFor.all(index).map((r) => r.id);
      this.#sql.deleteFor.run(index);
      return ids;
    }).immediate();
  }

  /** Retention: invitations expired, or answered, before `before`. */
  purge(before: Date): number {
    const cutoff = before.toISOString();
    return this.#sql.purge.run(cutoff, cutoff).changes;
  }
}
