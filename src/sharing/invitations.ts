/**
 * Invitations to a model, by e-mail address and with a role. The address is sealed and found by its
 * blind index, so an invitation reaches its person at sign-in whichever provider they use. The caps
 * of PROTOCOL.md hold here: pending invitations per invitee, invitations sent per person per hour.
 */
import crypto from 'node:crypto';
import { openText, seal } from '../crypto/sealed.ts';
import { AppError } from '../errors.ts';
import type { Actor } from '../http/authenticate.ts';
import { emailIndex, normalizeEmail, type Person } from '../identity/people.ts';
import type { Mailer } from '../mail/mailer.ts';
import type { InvitationSource, PendingInvitation } from '../orgs/invitation-source.ts';
import type { ModelsService, SharingDeps } from './models-service.ts';
import { policy, rank, type ModelRole } from './policy.ts';

export interface ModelInvitation {
  id: string;
  modelId: string;
  email: string;
  role: Exclude<ModelRole, 'owner'>;
  invitedBy: string;
  createdAt: string;
  expiresAt: string;
}

interface InvitationRow {
  id: string;
  model_id: string;
  email_sealed: Buffer;
  role: Exclude<ModelRole, 'owner'>;
  invited_by: string;
  created_at: string;
  expires_at: string;
}

export interface InvitationRules {
  lifetimeMs: number;
  /** The relay (when SMTP is set) and the address the mail points to. */
  mailer: Mailer | undefined;
  publicUrl: string;
  displayName(personId: string): string;
  /**
   * The caps of PROTOCOL.md over every kind of invitation (the organizations service keeps them):
   * throws a 429 AppError when the address has too many pending or the sender sent too many.
   */
  assertLimits(senderId: string, email: string): void;
}

export class ModelInvitations implements InvitationSource {
  readonly #d: SharingDeps;
  readonly #models: ModelsService;
  readonly #rules: InvitationRules;
  readonly #sql;

  constructor(deps: SharingDeps, models: ModelsService, rules: InvitationRules) {
    this.#d = deps;
    this.#models = models;
    this.#rules = rules;
    const columns = 'id, model_id, email_sealed, role, invited_by, created_at, expires_at';
    const db = deps.db;
    this.#sql = {
      insert: db.prepare('INSERT INTO model_invitations (id, model_id, email_index, email_sealed, role, invited_by, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
      forModel: db.prepare<[string, string], InvitationRow>(`SELECT ${columns} FROM model_invitations WHERE model_id = ? AND status = 'pending' AND expires_at > ? ORDER BY created_at`),
      forEmail: db.prepare<[Buffer, string], InvitationRow>(`SELECT ${columns} FROM model_invitations WHERE email_index = ? AND status = 'pending' AND expires_at > ? ORDER BY created_at`),
      get: db.prepare<[string], InvitationRow & { email_index: Buffer; status: string }>(`SELECT ${columns}, email_index, status FROM model_invitations WHERE id = ?`),
      pendingFor: db.prepare<[Buffer, string], { n: number }>("SELECT count(*) AS n FROM model_invitations WHERE email_index = ? AND status = 'pending' AND expires_at > ?"),
      sentSince: db.prepare<[string, string], { n: number }>('SELECT count(*) AS n FROM model_invitations WHERE invited_by = ? AND created_at > ?'),
      setStatus: db.prepare("UPDATE model_invitations SET status = ? WHERE id = ? AND status = 'pending'"),
    };
  }

  #index(email: string): Buffer {
    return emailIndex(this.#d.keys, email);
  }

  #open(row: InvitationRow): ModelInvitation {
    const email = openText(this.#d.keys, { table: 'model_invitations', column: 'email', row: row.id }, row.email_sealed);
    return { id: row.id, modelId: row.model_id, email, role: row.role, invitedBy: row.invited_by, createdAt: row.created_at, expiresAt: row.expires_at };
  }

  invite(actor: Actor, modelId: string, email: string, role: Exclude<ModelRole, 'owner'>, source: string): ModelInvitation {
    const { model, standing } = this.#models.locate(actor, modelId, 'model.invite', policy.manage, source);
    const denied = (reason: string) =>
      this.#d.audit.record({ action: 'model.invite', outcome: 'denied', reason, actor: { id: actor.person.id, email: actor.person.email ?? undefined }, target: { type: 'model', id: modelId }, source });
    if (rank(role) > rank(standing.role)) {
      denied('role_above_own');
      throw new AppError('forbidden', 'You cannot invite someone to a role above your own');
    }
    this.#d.gate.assertMayInvite(model.organizationId, email);
    const now = this.#d.clock.now();
    const index = this.#index(email);
    const invitation = this.#d.db.transaction(() => {
      try {
        this.#rules.assertLimits(actor.person.id, email);
      } catch (error) {
        denied(error instanceof AppError ? error.code : 'failed');
        throw error;
      }
      const id = `minv_${crypto.randomBytes(12).toString('hex')}`;
      const sealed = seal(this.#d.keys, this.#d.keys.singleton('personal'), { table: 'model_invitations', column: 'email', row: id }, normalizeEmail(email));
      const expires = new Date(now.getTime() + this.#rules.lifetimeMs).toISOString();
      this.#sql.insert.run(id, modelId, index, sealed, role, actor.person.id, now.toISOString(), expires);
      const invitee = this.#d.people.findByEmail(email);
      this.#d.events.append(modelId, 'membership', { change: 'invited', invitation_id: id, role }, invitee?.id ?? null);
      this.#d.audit.record({ action: 'model.invite', outcome: 'allowed', actor: { id: actor.person.id, email: actor.person.email ?? undefined }, target: { type: 'model', id: modelId }, source, details: { invitation_id: id, role } });
      return this.#open(this.#sql.get.get(id)!);
    }).immediate();
    this.#d.events.notify();
    if (this.#rules.mailer) void this.#mail(actor, model.name, invitation);
    return invitation;
  }

  /** Mails the invitation after the commit; the invitee sees it at sign-in whether or not this works. */
  async #mail(actor: Actor, modelName: string, invitation: ModelInvitation): Promise<void> {
    const inviter = this.#rules.displayName(actor.person.id);
    const record = (outcome: 'allowed' | 'failed') =>
      this.#d.audit.record({ action: 'model.invitation_mail', outcome, reason: outcome === 'failed' ? 'smtp_error' : undefined, actor: { id: actor.person.id, email: actor.person.email ?? undefined }, target: { type: 'model', id: invitation.modelId }, source: 'smtp', details: { invitation_id: invitation.id } });
    try {
      await this.#rules.mailer!.send({
        to: invitation.email,
        subject: `${inviter} invites you to the model ${modelName} on Modelshare`,
        text:
          `${inviter} invites you to work on the structural model "${modelName}" on Modelshare, as ${invitation.role}.\n\n` +
          `Sign in at ${this.#rules.publicUrl}/ with this address (${invitation.email}) to accept or decline, ` +
          `or accept it from your desktop client. The invitation expires on ${invitation.expiresAt.slice(0, 10)}.\n`,
      });
      record('allowed');
    } catch {
      record('failed');
    }
  }

  countPendingFor(email: string): number {
    return this.#sql.pendingFor.get(this.#index(email), this.#d.clock.now().toISOString())!.n;
  }

  countSentSince(personId: string, since: Date): number {
    return this.#sql.sentSince.get(personId, since.toISOString())!.n;
  }

  /** The person's pending model invitations, as `GET /api/v1/invitations` lists them. */
  pendingFor(person: Person): PendingInvitation[] {
    if (!person.email || !person.emailVerified) return [];
    return this.#sql.forEmail.all(this.#index(person.email), this.#d.clock.now().toISOString()).flatMap((row) => {
      const model = this.#d.models.get(row.model_id);
      if (!model || model.deletedAt) return [];
      const inviter = this.#d.people.get(row.invited_by);
      return [{
        id: row.id,
        kind: 'model',
        role: row.role,
        created_at: row.created_at,
        expires_at: row.expires_at,
        invited_by: { id: row.invited_by, display_name: inviter?.name ?? 'former member' },
        model: { id: model.id, name: model.name },
      }];
    });
  }

  pending(actor: Actor, modelId: string, source: string, options: { administer?: boolean; deleted?: boolean } = {}): ModelInvitation[] {
    this.#models.locate(actor, modelId, 'model.invitations', options.administer ? policy.view : policy.manage, source, options);
    return this.#sql.forModel.all(modelId, this.#d.clock.now().toISOString()).map((r) => this.#open(r));
  }

  revoke(actor: Actor, modelId: string, invitationId: string, source: string): void {
    this.#models.locate(actor, modelId, 'model.invite_revoke', policy.manage, source);
    const row = this.#sql.get.get(invitationId);
    if (!row || row.model_id !== modelId || this.#sql.setStatus.run('revoked', invitationId).changes !== 1) throw new AppError('not_found', 'There is no such pending invitation');
    this.#d.audit.record({ action: 'model.invite_revoke', outcome: 'allowed', actor: { id: actor.person.id, email: actor.person.email ?? undefined }, target: { type: 'model', id: modelId }, source, details: { invitation_id: invitationId } });
  }

  /** Accepts or declines one of the caller's invitations; accepting makes them a member with its role. */
  answer(actor: Actor, invitationId: string, accept: boolean, source: string): Record<string, unknown> | undefined {
    if (!invitationId.startsWith('minv_')) return undefined;
    const row = this.#sql.get.get(invitationId);
    const mine = row && actor.person.email && row.email_index.equals(this.#index(actor.person.email));
    if (!row || !mine || row.status !== 'pending' || row.expires_at <= this.#d.clock.now().toISOString()) throw new AppError('not_found', 'There is no such pending invitation');
    const model = this.#d.models.get(row.model_id);
    if (!model || model.deletedAt) throw new AppError('not_found', 'There is no such pending invitation');
    if (accept) {
      if (!actor.person.emailVerified) throw new AppError('email_unverified', 'Your e-mail address must be verified by your sign-in provider to accept an invitation');
      // An outsider invited to an organization's model joins that organization as a partner, unless blocked there.
      if (model.organizationId) {
        this.#d.gate.assertMayInvite(model.organizationId, actor.person.email!);
        this.#d.gate.admitPartner(actor.person, model.organizationId, source);
      }
      this.#d.gate.assertMayShare(actor.person, model.organizationId);
    }
    this.#d.db.transaction(() => {
      this.#sql.setStatus.run(accept ? 'accepted' : 'declined', invitationId);
      if (accept && this.#d.models.role(row.model_id, actor.person.id) === null) {
        this.#d.models.setMember(row.model_id, actor.person.id, row.role, this.#d.clock.now().toISOString());
        this.#d.events.append(row.model_id, 'membership', { change: 'joined', person_id: actor.person.id, role: row.role }, actor.person.id);
      }
    }).immediate();
    this.#d.events.notify();
    this.#d.audit.record({ action: accept ? 'model.invite_accept' : 'model.invite_decline', outcome: 'allowed', actor: { id: actor.person.id, email: actor.person.email ?? undefined }, target: { type: 'model', id: row.model_id }, source, details: { invitation_id: invitationId } });
    return { id: invitationId, kind: 'model', status: accept ? 'accepted' : 'declined', model: { id: model.id, name: model.name }, role: row.role };
  }
}
