/** The web console's part of the route table: its stylesheet, every person's pages, organization admins' pages. */
import type { AppDeps } from '../app.ts';
import type { AnyRoute } from '../http/route-table.ts';
import { assetRoutes } from './assets.ts';
import { consoleAdminRoutes } from './console-admin-routes.ts';
import type { ConsoleDeps } from './console-context.ts';
import { consoleMeRoutes } from './console-me-routes.ts';
import { consoleOrgPeopleRoutes } from './console-org-people-routes.ts';
import { consoleOrgRoutes } from './console-org-routes.ts';
import { AuditQuery } from '../audit/query.ts';
import { PeopleList } from '../identity/people-list.ts';
import { consoleBranchRoutes } from './console-branch-routes.ts';
import { consoleCsvRoutes } from './console-csv-routes.ts';
import { consoleModelRoutes } from './console-model-routes.ts';
import { consoleNoticeRoutes } from './console-notices-routes.ts';
import type { Notices } from '../notices/notices.ts';

export function consoleRoutes(deps: AppDeps, notices: Notices): AnyRoute[] {
  const { identity, orgs, privacy, sharing, audit, demo } = deps.services;
  const d: ConsoleDeps = {
    identity, orgs, sharing, privacy, audit,
    auditQuery: new AuditQuery(deps.db, deps.keys),
    peopleList: new PeopleList(deps.db, deps.keys, identity.people),
    db: deps.db,
    notices,
    demo: !!demo,
    tokenMaxLifetimeMs: deps.config.auth.token_max_lifetime,
  };
  return [...assetRoutes(), ...consoleMeRoutes(d), ...consoleOrgRoutes(d), ...consoleOrgPeopleRoutes(d), ...consoleAdminRoutes(d, { jobs: deps.jobs, tls: deps.tls, log: deps.log }),
    ...consoleModelRoutes(d), ...consoleBranchRoutes(d), ...consoleCsvRoutes(d), ...consoleNoticeRoutes(d)];
}
