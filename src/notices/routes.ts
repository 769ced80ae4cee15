/** The admin notices (issue 22): for an organization's admins, and for server admins. */
import { z } from 'zod';
import { access, route, type AnyRoute } from '../http/route-table.ts';
import { organizationGates, serverAdminGate } from '../orgs/gates.ts';
import type { OrganizationsService } from '../orgs/service.ts';
import type { Notices } from './notices.ts';

export function noticeRoutes(orgs: OrganizationsService, notices: Notices): AnyRoute[] {
  const { admin } = organizationGates(orgs);
  return [
    route({
      method: 'GET', path: '/api/v1/organizations/:id/notices', summary: "What needs the organization's admins' eye", access: access.token('read'), params: z.object({ id: z.string() }), gate: admin,
      handler: ({ gate: { organization } }) => ({ notices: notices.forOrganization(organization) }),
    }),
    route({
      method: 'GET', path: '/api/v1/admin/notices', summary: "What needs a server admin's eye (server admins)", access: access.token('admin'), gate: serverAdminGate(orgs),
      handler: () => ({ notices: notices.forServer() }),
    }),
  ];
}
