/** `GET /api/v1/me/export` (a person's own data) and `POST /api/v1/admin/people/:id/erase` (server admins). */
import { z } from 'zod';
import { access, route, type AnyRoute } from '../http/route-table.ts';
import { serverAdminGate } from '../orgs/gates.ts';
import type { OrganizationsService } from '../orgs/service.ts';
import type { PrivacyService } from './service.ts';

export function privacyRoutes(privacy: PrivacyService, orgs: OrganizationsService): AnyRoute[] {
  return [
    route({
      method: 'GET', path: '/api/v1/me/export', summary: "Everything the server keeps about the caller", access: access.token('read'),
      handler: ({ actor, ip }, ctx) => {
        ctx.set('Content-Disposition', 'attachment; filename="modelshare-export.json"');
        ctx.set('Cache-Control', 'no-store');
        return privacy.export(actor, ip);
      },
    }),
    route({
      method: 'POST', path: '/api/v1/admin/people/:id/erase', summary: "Erase a person's personal data (server admins)", access: access.token('admin'), params: z.object({ id: z.string() }), gate: serverAdminGate(orgs),
      handler: ({ actor, params, ip }) => privacy.erase(actor, params.id, ip),
    }),
  ];
}
