/**
 * Invitations to organizations (partners), the one list of a person's pending invitations of every
 * kind, and the anti-spam caps of PROTOCOL.md, which count every kind together: other domains add
 * theirs through an InvitationSource. Mail goes out after the invitation is stored; whether or not it
 * arrives, the invitee sees the invitation when they sign in.
 */
import type { Clock } from '../clock.ts';
import { AppError } from '../errors.ts';
import type { Actor } from '../http/authenticate.ts';
import { normalizeEmail, type Person } from '../identity/people.ts';
import type { Log } from '../log.ts';
import type { Mailer } from '../mail/mailer.ts';
import type { InvitationSource, PendingInvitation } from './invitation-source.ts';
import type { InvitationRepo, OrgInvitation } from './invitation-repo.ts';
import type { Organization } from './repo.ts';
import type { OrganizationsService } from './service.ts';

export interface InvitationLimits {
  lifetimeMs: number;
  maxPendingPerInvitee: number;
  maxSentPerHour: number;
}

const hour = 3_600_000;

export class InvitationService {
  readonly #orgs: OrganizationsService;
  readonly #repo: InvitationRepo;
  readonly #clock: Clock;
  readonly #log: Log;
  readonly #limits: InvitationLimits;
  readonly #mailer: Mailer | undefined;
  readonly #publicUrl: string;
  readonly #sources: InvitationSource[] = [];

  constructor(orgs: OrganizationsService, repo: InvitationRepo, deps: { clock: Clock; log: Log; limits: InvitationLimits; mailer: Mailer | undefined; publicUrl: string }) {
    this.#orgs = orgs;
    this.#repo = repo;
    this.#clock = deps.clock;
    this.#log = deps.log;
    this.#limits = deps.limits;
    this.#mailer = deps.mailer;
    this.#publicUrl = deps.publicUrl;
  }

  /** Another domain's invitations join the list and the caps. */
  addSource(source: InvitationSource): void {
    this.#sources.push(source);
  }

  /** Pending, unexpired invitations to organizations for an address (this kind only; sources count their own). */
  countPendingFor(email: string): number {
    return this.#repo.countPendingFor(normalizeEmail(email));
  }

  /** Invitations to organizations the person sent after `since` (this kind only). */
  countSentSince(personId: string, since: Date): number {
    return this.#repo.countSentSince(personId, since);
  }

  /**
   * The caps, for invitations of every kind: throws `invitation_limit` (429) when the address already
   * has the most pending invitations, or the sender sent the most in the last hour.
   */
  assertLimits(senderId: string, email: string): void {
    const address = normalizeEmail(email);
    const pending = this.#repo.countPendingFor(address) + this.#sources.reduce((n, s) => n + s.countPendingFor(address), 0);
    if (pending >= this.#limits.maxPendingPerInvitee) {
      throw new AppError('invitation_limit', `This address already has ${pending} pending invitations, the most it may have`, {
        extra: { limit: 'invitations.max_pending_per_invitee', max: this.#limits.maxPendingPerInvitee },
      });
    }
    const since = new Date(this.#clock.now().getTime() - hour);
    const sent = this.#repo.countSentSince(senderId, since) + this.#sources.reduce((n, s) => n + s.countSentSince(senderId, since), 0);
    if (sent >= this.#limits.maxSentPerHour) {
      throw new AppError('invitation_limit', `You sent ${sent} invitations in the last hour, the most you may send`, {
        extra: { limit: 'invitations.max_sent_per_hour', max: this.#limits.maxSentPerHour },
        headers: { 'Retry-After': '3600' },
      });
    }
  }

  /** Invites an address to the organization as a partner. */
  invite(actor: Actor, org: Organization, rawEmail: string, source: string): OrgInvitation {
    const email = normalizeEmail(rawEmail);
    const target = { type: 'organization', id: org.id };
    const deny = (reason: string, error: AppError): never => {
      this.#orgs.record(actor.person, { action: 'org.invite', outcome: 'denied', reason, target, source, details: { invitee_email: email } });
      throw error;
    };
    if (this.#orgs.blocks.covering(org.id, email).active) deny('blocked', new AppError('blocked', 'The organization blocks this address'));
    const existing = this.#orgs.identity.people.findByEmail(email);
    if (existing && this.#orgs.repo.membership(org.id, existing.id)) deny('already_member', new AppError('conflict', 'This person already belongs to the organization'));
    if (this.#repo.pendingInOrganizationFor(org.id, email)) deny('already_invited', new AppError('conflict', 'This address already has a pending invitation to the organization'));
    try {
      this.assertLimits(actor.person.id, email);
    } catch (error) {
      deny(String((error as AppError).extra['limit']), error as AppError);
    }
    const invitation = this.#repo.create(org.id, email, actor.person.id, this.#limits.lifetimeMs);
    this.#orgs.record(actor.person, { action: 'org.invite', outcome: 'allowed', target: { type: 'invitation', id: invitation.id }, source, details: { organization_id: org.id, invitee_email: email } });
    if (this.#mailer) void this.#mail(actor, org, invitation);
    return invitation;
  }

  async #mail(actor: Actor, org: Organization, invitation: OrgInvitation): Promise<void> {
    const inviter = this.#orgs.identity.publicPerson(actor.person.id).display_name;
    const target = { type: 'invitation', id: invitation.id };
    try {
      await this.#mailer!.send({
        to: invitation.email,
        subject: `${inviter} invites you to ${org.name} on Modelshare`,
        text:
          `${inviter} invites you to join ${org.name} on Modelshare as a partner, to work on its structural models.\n\n` +
          `Sign in at ${this.#publicUrl}/ with this address (${invitation.email}) to accept or decline. ` +
          `The invitation expires on ${invitation.expiresAt.slice(0, 10)}.\n`,
      });
      this.#orgs.record(actor.person, { action: 'org.invitation_mail', outcome: 'allowed', target, source: 'smtp' });
    } catch (error) {
      this.#log.warn({ err: error, invitation: invitation.id }, 'the invitation e-mail could not be sent; the invitee still sees it when signing in');
      this.#orgs.record(actor.person, { action: 'org.invitation_mail', outcome: 'failed', reason: 'smtp_error', target, source: 'smtp' });
    }
  }

  pendingOf(org: Organization): OrgInvitation[] {
    return this.#repo.pendingOf(org.id);
  }

  revoke(actor: Actor, org: Organization, id: string, source: string): void {
    const invitation = this.#repo.get(id);
    if (!invitation || invitation.organizationId !== org.id || !this.#repo.decide(id, 'revoked')) throw new AppError('not_found', 'There is no such pending invitation');
    this.#orgs.record(actor.person, { action: 'org.invitation_revoke', outcome: 'allowed', target: { type: 'invitation', id }, source, details: { organization_id: org.id } });
  }

  /** Every pending invitation of every kind to the person's verified address, newest first. */
  pendingFor(person: Person): PendingInvitation[] {
    if (!person.email || !person.emailVerified) return [];
    const own = this.#repo.pendingFor(person.email).map((inv): PendingInvitation => {
      const org = this.#orgs.repo.get(inv.organizationId)!;
      return {
        id: inv.id,
        kind: 'organization',
        role: inv.role,
        organization: { id: org.id, name: org.name },
        invited_by: this.#orgs.identity.publicPerson(inv.invitedBy),
        created_at: inv.createdAt,
        expires_at: inv.expiresAt,
      };
    });
    const all = [...own, ...this.#sources.flatMap((s) => s.pendingFor(person))];
    return all.sort((a, b) => (a.created_at === b.created_at ? a.id.localeCompare(b.id) : b.created_at.localeCompare(a.created_at)));
  }

  /**
   * Accepts or declines an invitation addressed to the caller. Another person's invitation, an
   * answered or an expired one is not found; a blocked address may not accept.
   */
  answer(actor: Actor, id: string, accept: boolean, source: string): Record<string, unknown> {
    const { person } = actor;
    const invitation = this.#repo.get(id);
    const mine = invitation && person.emailVerified && person.email === invitation.email && invitation.status === 'pending' && invitation.expiresAt > this.#clock.now().toISOString();
    if (!mine) {
      for (const s of this.#sources) {
        const answered = s.answer(actor, id, accept, source);
        if (answered) return answered;
      }
      throw new AppError('not_found', 'There is no such pending invitation for you');
    }
    const org = this.#orgs.repo.get(invitation.organizationId)!;
    const target = { type: 'invitation', id };
    if (accept && this.#orgs.blocks.covering(org.id, invitation.email).active) {
      this.#orgs.record(person, { action: 'org.invitation_accept', outcome: 'denied', reason: 'blocked', target, source, details: { organization_id: org.id } });
      throw new AppError('blocked', 'The organization blocks your address');
    }
    this.#repo.decide(id, accept ? 'accepted' : 'declined');
    this.#orgs.record(person, { action: accept ? 'org.invitation_accept' : 'org.invitation_decline', outcome: 'allowed', target, source, details: { organization_id: org.id } });
    if (accept) this.#orgs.joinAsPartner(person, org.id, source, 'invitation');
    const role = this.#orgs.repo.membership(org.id, person.id)?.role ?? invitation.role;
    return { id, kind: 'organization', status: accept ? 'accepted' : 'declined', organization: { id: org.id, name: org.name }, role };
  }

  /** Erase: the invitations to the address go; returns their ids. */
  removeFor(email: string): string[] {
    return this.#repo.removeFor(normalizeEmail(email));
  }

  /** Retention: invitations that expired or were answered more than 30 days ago go. */
  purge(): number {
    return this.#repo.purge(new Date(this.#clock.now().getTime() - 30 * 24 * hour));
  }
}
