/** The web console's part of the route table: its stylesheet, every person's pages, organization admins' pages. */
import type { AppDeps } from '../app.ts';
import type { AnyRoute } from '../http/route-table.ts';
import { assetRoutes } from './assets.ts';
import { consoleAdminRoutes } from './console-admin-routes.ts';
import type { ConsoleDeps } from './console-context.ts';
import { consoleMeRoutes } from './console-me-routes.ts';
import { consoleOrgPeopleRoutes } from './console-org-people-routes.ts';
import { consoleOrgRoutes } from './console-org-routes.ts';
import { ConsoleReads } from './console-reads.ts';

export function consoleRoutes(deps: AppDeps): AnyRoute[] {
  const { identity, orgs, privacy, sharing, audit, demo } = deps.services;
  const d: ConsoleDeps = {
    identity, orgs, sharing, privacy, audit,
    reads: new ConsoleReads(deps.db, sharing.routeDeps.repo, audit, identity.people),
    demo: !!demo,
    tokenMaxLifetimeMs: deps.config.auth.token_max_lifetime,
  };
  return [...assetRoutes(), ...consoleMeRoutes(d), ...consoleOrgRoutes(d), ...consoleOrgPeopleRoutes(d), ...consoleAdminRoutes(d, { jobs: deps.jobs, tls: deps.tls, log: deps.log })];
}
