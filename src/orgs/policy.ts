/**
 * The rules of organizations, as plain functions of their inputs: which role a sign-in's claims give,
 * which domains cover an address, and whether a person may share in an organization right now.
 */
import type { ErrorCode } from '../errors.ts';

export type OrgRole = 'admin' | 'member' | 'partner';

/** What a person's standing in one organization is made of, for the sharing decision. */
export interface SharingFacts {
  emailVerified: boolean;
  lastSignInAt: string | null;
  organization: { sharingEnabled: boolean; reverifyAfter: string | null };
  membership: { sharingEnabled: boolean; reverifyAfter: string | null } | undefined;
  block: { active: boolean; liftedAt: string | null };
}

const rank: Record<OrgRole, number> = { partner: 1, member: 2, admin: 3 };

export const policy = {
  /**
   * The role a sign-in gives: admin for a member of an admin group, member (employee) for a verified
   * address at one of the domains, else none. An unverified address proves nothing about a domain.
   */
  roleFromClaims(settings: { domains: readonly string[]; adminGroups: readonly string[] }, email: string | null, emailVerified: boolean, groups: readonly string[]): OrgRole | null {
    if (groups.some((g) => settings.adminGroups.includes(g))) return 'admin';
    const domain = email && emailVerified ? domainOf(email) : null;
    return domain && settings.domains.includes(domain) ? 'member' : null;
  },

  /** True when `a` is a higher role than `b`. */
  outranks(a: OrgRole, b: OrgRole): boolean {
    return rank[a] > rank[b];
  },

  /**
   * Why the person may not share in this organization now, or null when they may. The order is the
   * order a person fixes things in: a blocked address first, then membership and the switches, then
   * the fresh sign-in that a lifted block or a switch turned back on asks for.
   */
  sharingRefusal(facts: SharingFacts): ErrorCode | null {
    if (!facts.emailVerified) return 'email_unverified';
    if (facts.block.active) return 'blocked';
    if (!facts.membership || !facts.organization.sharingEnabled || !facts.membership.sharingEnabled) return 'sharing_disabled';
    const lifted = [facts.organization.reverifyAfter, facts.membership.reverifyAfter, facts.block.liftedAt].filter((t): t is string => t !== null);
    // A sign-in strictly after the lift counts: it is the provider vouching for the address again.
    if (lifted.some((t) => !facts.lastSignInAt || facts.lastSignInAt <= t)) return 'reverification_required';
    return null;
  },
};

/** The domain of an address, lower-cased; null for something that is not an address. */
export function domainOf(email: string): string | null {
  const at = email.lastIndexOf('@');
  return at > 0 && at < email.length - 1 ? email.slice(at + 1).toLowerCase() : null;
}

/** The domain of an address and each parent domain with at least one dot: eu.rival.example, rival.example. */
export function domainsCovering(email: string): string[] {
  const domain = domainOf(email);
  if (!domain) return [];
  const labels = domain.split('.');
  const out: string[] = [];
  for (let i = 0; i < labels.length - 1; i++) out.push(labels.slice(i).join('.'));
  return out;
}
