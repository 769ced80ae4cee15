/** What leaves the server about organizations: each view lists its fields, nothing is passed through. */
import type { Person } from '../identity/people.ts';
import { presentProfile } from '../identity/present.ts';
import type { Profile } from '../identity/profiles.ts';
import type { Block } from './block-repo.ts';
import type { OrgInvitation } from './invitation-repo.ts';
import type { Membership, Organization } from './repo.ts';

/** An organization as server admins see it. */
export function presentOrganization(org: Organization, seatsUsed: number) {
  return {
    id: org.id,
    name: org.name,
    domains: org.domains,
    admin_groups: org.adminGroups,
    seats: org.seats,
    seats_used: seatsUsed,
    sharing_enabled: org.sharingEnabled,
    declared_in_config: org.configId !== null,
    created_at: org.createdAt,
    updated_at: org.updatedAt,
  };
}

/** An organization as its members see it; its admins see the switch and seats too. */
export function presentOrganizationFor(org: Organization, role: string | null, seats: { seats: number; used: number; available: number } | undefined) {
  return {
    id: org.id,
    name: org.name,
    role,
    ...(seats ? { sharing_enabled: org.sharingEnabled, seats, domains: org.domains } : {}),
  };
}

/** A member as the organization's admins see them: role, switch and the whole profile. */
export function presentMember(m: Membership, person: Person | undefined, profile: Profile) {
  return {
    person_id: m.personId,
    role: m.role,
    sharing_enabled: m.sharingEnabled,
    joined_via: m.source,
    joined_at: m.createdAt,
    email_verified: person?.emailVerified ?? false,
    last_sign_in_at: person?.lastSignInAt ?? null,
    profile: person && !person.erasedAt ? presentProfile(person, profile) : null,
  };
}

export function presentBlock(b: Block) {
  return { id: b.id, kind: b.kind, value: b.value, created_at: b.createdAt, created_by: b.createdBy };
}

/** A pending invitation as the organization's admins see it. */
export function presentOrgInvitation(inv: OrgInvitation) {
  return { id: inv.id, email: inv.email, role: inv.role, status: inv.status, invited_by: inv.invitedBy, created_at: inv.createdAt, expires_at: inv.expiresAt };
}
