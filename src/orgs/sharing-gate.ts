/**
 * What the sharing domain asks of organizations before any sharing call: may this person share in
 * this organization right now? Implemented by the organizations service; sharing never reads the
 * organization tables itself.
 */
import type { Person } from '../identity/people.ts';

export interface SharingGate {
  /**
   * Throws an AppError when `person` may not use sharing calls in `organizationId` (null for a model
   * outside any organization): `email_unverified` (403) when the provider does not vouch for their
   * address, `sharing_disabled` (403) when sharing is switched off for them or their organization,
   * `blocked` (403) when their address or domain is blocked there, and `reverification_required`
   * (403) when they must sign in again through the provider after a block or disable was lifted.
   */
  assertMayShare(person: Person, organizationId: string | null): void;
  /**
   * The organization a new model belongs to: `requested` when the person is a member of it (else a
   * 404 not_found AppError), otherwise the one organization they are an employee or admin of, else the
   * one they are a partner of (a partner shares for the organization that admitted them), else null.
   * Several at the deciding level: 400 validation_failed asking for organization_id.
   */
  organizationForNewModel(person: Person, requested: string | undefined): string | null;
  /** True when the person is an admin of the organization. */
  isOrganizationAdmin(personId: string, organizationId: string): boolean;
  /**
   * Makes the person a partner of the organization, for an accepted invitation to one of its models
   * (an outsider then shares there as partners do); nothing changes for someone already a member.
   */
  admitPartner(person: Person, organizationId: string, source: string): void;
  /** Throws `blocked` (403) when invitations to `email` are refused in that organization. */
  assertMayInvite(organizationId: string | null, email: string): void;
  /**
   * Calls `listener` whenever access may have been cut (sharing switched off, a block added), with
   * the person (or null for a whole organization), so open event streams can re-check and close.
   */
  onAccessChanged(listener: (change: { personId: string | null; organizationId: string | null }) => void): () => void;
}
