/**
 * What another domain (sharing, for invitations to models) gives the invitations list of
 * `GET /api/v1/invitations` and the caps of PROTOCOL.md: its pending invitations for a person, how
 * many an address has and a person sent, and accept/decline of its own ids. Registered with
 * `OrganizationsService.invitations.addSource`; organizations never read another domain's tables.
 */
import type { Actor } from '../http/authenticate.ts';
import type { Person } from '../identity/people.ts';

/** One pending invitation as the invitee sees it; `kind` says which domain it belongs to. */
export interface PendingInvitation {
  id: string;
  kind: string;
  role: string;
  created_at: string;
  expires_at: string;
  invited_by: { id: string; display_name: string };
  /** Kind-specific members, e.g. `organization: {id, name}` or `model: {id, name}`. */
  [more: string]: unknown;
}

export interface InvitationSource {
  /** Pending, unexpired invitations to the person's (verified) address. */
  pendingFor(person: Person): PendingInvitation[];
  /** Pending, unexpired invitations to an address (normalized), for the per-invitee cap. */
  countPendingFor(email: string): number;
  /** Invitations the person sent after `since`, for the hourly cap. */
  countSentSince(personId: string, since: Date): number;
  /**
   * Accepts or declines one of its own invitations for the caller, returning what to answer (e.g.
   * `{kind: 'model', model: {id, name}, role}`); undefined when the id is not one of its own.
   */
  answer(actor: Actor, id: string, accept: boolean, source: string): Record<string, unknown> | undefined;
}
