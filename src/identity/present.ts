/** What leaves the server about a person: the caller's own view. */
import type { Person } from './people.ts';
import type { Profile } from './profiles.ts';

/** What organizations tell about the caller: where they belong and whether they may share now. */
export interface MeStatus {
  sharing_enabled: boolean;
  organizations: { id: string; name: string; role: string; sharing_enabled: boolean; sharing_refusal: string | null }[];
  pending_invitations: number;
}

/** Every profile field, as the person themselves (and their organization's admins) see it. */
export function presentProfile(person: Person, profile: Profile, options: { inlinePicture?: boolean } = {}) {
  const f = profile.fields;
  return {
    email: person.email,
    first_name: f.first_name ?? null,
    last_name: f.last_name ?? null,
    display_name: f.display_name ?? person.name,
    country: f.country ?? null,
    preferred_language: f.preferred_language ?? null,
    organization: f.organization ?? null,
    job_title: f.job_title ?? null,
    phone: f.phone ?? null,
    about_me: f.about_me ?? null,
    // By address, not inline: a list of people must not carry a 256 KiB picture each.
    picture: !profile.picture ? null : options.inlinePicture ? `data:${profile.picture.type};base64,${profile.picture.data}` : `/api/v1/people/${encodeURIComponent(person.id)}/picture`,
  };
}

export function presentMe(person: Person, profile: Profile, status: MeStatus) {
  return {
    id: person.id,
    email: person.email,
    email_verified: person.emailVerified,
    name: person.name,
    server_admin: person.serverAdmin,
    // Unverified people may sign in but not share; organizations add their switches to this.
    sharing_enabled: person.emailVerified && status.sharing_enabled,
    organizations: status.organizations,
    pending_invitations: status.pending_invitations,
    profile: presentProfile(person, profile),
  };
}
