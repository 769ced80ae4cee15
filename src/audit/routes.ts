/**
 * The audit log for admins, as its part of the route table: every entry for server admins under
 * `/api/v1/admin/audit`, and an organization's entries (defined in query.ts) for its admins under
 * `/api/v1/organizations/:id/audit`. Pages go newest first by keyset on (at, id); an export streams
 * the whole filtered set as CSV or JSON lines. Exports are themselves audited.
 */
import { z } from 'zod';
import { cursorParam, encodeCursor, limitParam } from '../admin/cursor.ts';
import type { Keyring } from '../crypto/keyring.ts';
import type { Db } from '../db/open.ts';
import { AppError } from '../errors.ts';
import type { Actor } from '../http/authenticate.ts';
import { access, route, type AnyRoute, type RouteContext } from '../http/route-table.ts';
import { organizationGates, serverAdminGate } from '../orgs/gates.ts';
import type { OrganizationsService } from '../orgs/service.ts';
import { auditExport } from './export.ts';
import { AuditQuery, type AuditFilter, type AuditScope } from './query.ts';

const instant = z.iso.datetime({ offset: true }).transform((v) => new Date(v).toISOString());
const word = z.string().regex(/^[A-Za-z0-9._:-]{1,200}$/, 'is not an id or a name of this log');

const filters = {
  actor_id: word.optional(),
  /** An action, or a prefix of actions ending in `*` (`model.*`). */
  action: z.string().regex(/^[a-z0-9_.]{1,100}\*?$/, 'is not an action (or a prefix ending in *)').optional(),
  target_type: word.optional(),
  target_id: word.optional(),
  outcome: z.enum(['allowed', 'denied', 'failed']).optional(),
  from: instant.optional(),
  to: instant.optional(),
};
const auditPage = z.object({ ...filters, limit: limitParam, next: cursorParam.optional() }).strict();
const auditExportQuery = z.object({ ...filters, format: z.enum(['csv', 'jsonl']).default('csv') }).strict();
const orgParams = z.object({ id: z.string() });

function filterOf(q: z.infer<typeof auditExportQuery>): AuditFilter {
  const prefix = q.action?.endsWith('*');
  return {
    actorId: q.actor_id,
    action: prefix ? undefined : q.action,
    actionPrefix: prefix ? q.action!.slice(0, -1) : undefined,
    targetType: q.target_type,
    targetId: q.target_id,
    outcome: q.outcome,
    from: q.from,
    to: q.to,
  };
}

export function auditRoutes(d: { db: Db; keys: Keyring; orgs: OrganizationsService }): AnyRoute[] {
  const query = new AuditQuery(d.db, d.keys);
  const { admin } = organizationGates(d.orgs);
  const serverAdmin = serverAdminGate(d.orgs);

  const page = (scope: AuditScope, q: z.infer<typeof auditPage>) => {
    if (q.next && (q.next.sort !== 'audit' || typeof q.next.key !== 'string')) throw new AppError('validation_failed', 'next is not a cursor of this list', { extra: { errors: [{ field: 'next', message: 'cursor of another list' }] } });
    const found = query.page(scope, filterOf({ ...q, format: 'csv' }), q.next ? { at: q.next.key as string, id: q.next.id } : undefined, q.limit);
    const last = found.entries.at(-1);
    return { entries: found.entries, next: found.more && last ? encodeCursor({ sort: 'audit', key: last.at, id: last.id }) : null };
  };

  const stream = (actor: Actor, scope: AuditScope, q: z.infer<typeof auditExportQuery>, ctx: RouteContext) => {
    const filter = filterOf(q);
    d.orgs.record(actor.person, {
      action: 'audit.export',
      outcome: 'allowed',
      target: scope.kind === 'organization' ? { type: 'organization', id: scope.id } : undefined,
      source: ctx.ip,
      details: { format: q.format, filter },
    });
    const stamp = new Date().toISOString().slice(0, 10);
    ctx.status = 200;
    ctx.type = q.format === 'csv' ? 'text/csv; charset=utf-8; header=present' : 'application/jsonl; charset=utf-8';
    ctx.set('Content-Disposition', `attachment; filename="audit-${stamp}.${q.format}"`);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = auditExport(d.db, query, scope, filter, q.format);
  };

  return [
    route({
      method: 'GET', path: '/api/v1/admin/audit', summary: 'The audit log, filtered, newest first (server admins)', access: access.token('admin'), gate: serverAdmin, query: auditPage,
      handler: ({ query: q }) => page({ kind: 'server' }, q),
    }),
    route({
      method: 'GET', path: '/api/v1/admin/audit/export', summary: 'The filtered audit log as CSV or JSON lines, streamed (server admins)', access: access.token('admin'), gate: serverAdmin, query: auditExportQuery,
      handler: ({ actor, query: q }, ctx) => stream(actor, { kind: 'server' }, q, ctx),
    }),
    route({
      method: 'GET', path: '/api/v1/organizations/:id/audit', summary: "The organization's audit entries, filtered, newest first (organization admins)", access: access.token('read'), params: orgParams, gate: admin, query: auditPage,
      handler: ({ gate: { organization }, query: q }) => page({ kind: 'organization', id: organization.id }, q),
    }),
    route({
      method: 'GET', path: '/api/v1/organizations/:id/audit/export', summary: "The organization's audit entries as CSV or JSON lines, streamed (organization admins)", access: access.token('read'), params: orgParams, gate: admin, query: auditExportQuery,
      handler: ({ actor, gate: { organization }, query: q }, ctx) => stream(actor, { kind: 'organization', id: organization.id }, q, ctx),
    }),
  ];
}
