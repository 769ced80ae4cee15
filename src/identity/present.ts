/** What leaves the server about a person: the caller's own view. */
import type { Person } from './people.ts';

export function presentMe(person: Person) {
  return {
    id: person.id,
    email: person.email,
    email_verified: person.emailVerified,
    name: person.name,
    server_admin: person.serverAdmin,
    // Unverified people may sign in but not share (organizations add their switches to this).
    sharing_enabled: person.emailVerified,
    organizations: [] as { id: string; name: string; role: string }[],
  };
}
