/**
 * Who may do what to a model. Model roles include the rights of those below them:
 * owner › admin › editor › viewer. Organization admins act on their organization's models without
 * being members (list, re-own, delete, restore). Anyone else learns nothing: a 404.
 */
export type ModelRole = 'owner' | 'admin' | 'editor' | 'viewer';
export const modelRoles: readonly ModelRole[] = ['viewer', 'editor', 'admin', 'owner'];

export const rank = (role: ModelRole | null | undefined): number => (role ? modelRoles.indexOf(role) + 1 : 0);

/** At least `needed`. */
export function atLeast(role: ModelRole | null | undefined, needed: ModelRole): boolean {
  return rank(role) >= rank(needed);
}

/** How the caller stands to one model: their role (if a member) and whether they administer its organization. */
export interface Standing {
  role: ModelRole | null;
  organizationAdmin: boolean;
}

export const policy = {
  /** See the model and its members: members, and admins of its organization. */
  view: (s: Standing) => atLeast(s.role, 'viewer') || s.organizationAdmin,
  /** Read its content and history, and receive its events: members only. */
  read: (s: Standing) => atLeast(s.role, 'viewer'),
  write: (s: Standing) => atLeast(s.role, 'editor'),
  manage: (s: Standing) => atLeast(s.role, 'admin'),
  /** Delete, restore and transfer: the owner, or an admin of the model's organization. */
  own: (s: Standing) => s.role === 'owner' || s.organizationAdmin,
  /** Give `target` the role `to`: never above one's own, never to or from owner (that is a transfer). */
  setRole: (s: Standing, current: ModelRole | null, to: ModelRole) =>
    atLeast(s.role, 'admin') && to !== 'owner' && current !== 'owner' && rank(to) <= rank(s.role) && rank(current) <= rank(s.role),
  /** Remove a member: oneself (but not the owner), or someone not above oneself as an admin. */
  remove: (s: Standing, current: ModelRole, self: boolean) => current !== 'owner' && (self || (atLeast(s.role, 'admin') && rank(current) <= rank(s.role))),
};
