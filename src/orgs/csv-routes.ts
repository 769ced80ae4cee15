/**
 * User lists in CSV for organization admins (issue 22): export the members and partners, import the
 * same shape (dry run by default). The organization admin gate is on each line.
 */
import { z } from 'zod';
import { access, route, type AnyRoute } from '../http/route-table.ts';
import { OrganizationCsv } from './csv.ts';
import { organizationGates } from './gates.ts';
import type { OrganizationsService } from './service.ts';

const orgParams = z.object({ id: z.string() });

/** `POST …/members/import`: the CSV text, and whether only to plan (the default). */
export const importBody = z.object({ csv: z.string().min(1).max(900_000), dry_run: z.boolean().default(true) }).strict();

export function organizationCsvRoutes(orgs: OrganizationsService): AnyRoute[] {
  const { admin } = organizationGates(orgs);
  const csv = new OrganizationCsv(orgs);
  return [
    route({
      method: 'GET', path: '/api/v1/organizations/:id/members/export', summary: 'Members and partners as CSV (name, email, role, seat, sharing)', access: access.token('read'), params: orgParams, gate: admin,
      handler: ({ actor, gate: { organization }, ip }, ctx) => {
        orgs.record(actor.person, { action: 'org.export', outcome: 'allowed', target: { type: 'organization', id: organization.id }, source: ip });
        ctx.type = 'text/csv; charset=utf-8';
        ctx.set('Content-Disposition', 'attachment; filename="members.csv"');
        ctx.set('Cache-Control', 'no-store');
        ctx.body = csv.export(organization);
      },
    }),
    route({
      method: 'POST', path: '/api/v1/organizations/:id/members/import', summary: 'Invite partners, change roles and switch sharing from a CSV (dry run by default)', access: access.token('write'), params: orgParams, gate: admin, body: { kind: 'json', schema: importBody },
      handler: ({ actor, body, gate: { organization }, ip }) => csv.import(actor, organization, body.csv, body.dry_run, ip),
    }),
  ];
}
