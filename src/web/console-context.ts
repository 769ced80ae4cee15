/** What every console page needs: the services it reads, and how to frame and send a page. */
import type { AuditService } from '../audit/audit-service.ts';
import type { Actor } from '../http/authenticate.ts';
import type { RouteContext } from '../http/route-table.ts';
import type { IdentityService } from '../identity/service.ts';
import type { Notices } from '../notices/notices.ts';
import type { OrganizationsService } from '../orgs/service.ts';
import { isServerAdmin } from '../orgs/service.ts';
import type { PrivacyService } from '../privacy/service.ts';
import type { Sharing } from '../sharing/setup.ts';
import type { AuditQuery } from '../audit/query.ts';
import type { Db } from '../db/open.ts';
import { AppError } from '../errors.ts';
import type { PeopleList } from '../identity/people-list.ts';
import type { SafeHtml } from './html.ts';
import { consolePage } from './layout.ts';

export interface ConsoleDeps {
  identity: IdentityService;
  orgs: OrganizationsService;
  sharing: Sharing;
  privacy: PrivacyService;
  audit: AuditService;
  /** The admin API's reads: the audit log (and its streamed export, which opens its own connection to `db`) and the people list. */
  auditQuery: AuditQuery;
  peopleList: PeopleList;
  db: Db;
  /** What needs an admin's eye (the same notices the admin API answers). */
  notices: Notices;
  demo: boolean;
  tokenMaxLifetimeMs: number;
}

/** Renders `body` in the console frame for `actor` and sends it as HTML. */
export function sendConsolePage(d: ConsoleDeps, ctx: RouteContext, actor: Actor, title: string, body: SafeHtml, status = 200): void {
  const administers = d.orgs.repo
    .membershipsOf(actor.person.id)
    .filter((m) => m.role === 'admin')
    .flatMap((m) => {
      const org = d.orgs.repo.get(m.organizationId);
      return org ? [{ id: org.id, name: org.name }] : [];
    });
  const name = d.identity.publicPerson(actor.person.id).display_name;
  ctx.status = status;
  ctx.type = 'text/html; charset=utf-8';
  ctx.body = consolePage(title, body, { who: { name, csrf: actor.csrfToken! }, administers, serverAdmin: isServerAdmin(actor), demo: d.demo });
}

/** After a form post: back to a page (303, so a reload does not post again). */
export function seeOther(ctx: RouteContext, to: string): void {
  ctx.status = 303;
  ctx.redirect(to);
}

/** A model of another organization (or none) is not found here, like one that does not exist. */
export function assertInOrganization(d: ConsoleDeps, modelId: string, organizationId: string): void {
  if (d.sharing.list.get(modelId)?.organizationId !== organizationId) throw new AppError('not_found', 'There is no such model in this organization');
}
