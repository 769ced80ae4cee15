/**
 * The one route table: every HTTP route of the server, each domain's part in turn. The router, the
 * generated refusal tests and the OpenAPI document are all built from this list; a route that is
 * not here does not exist.
 */
import type { AppDeps } from './app.ts';
import { blobStorageCheck, databaseCheck, healthRoutes } from './http/health.ts';
import type { AnyRoute } from './http/route-table.ts';
import { meRoutes } from './identity/me-routes.ts';
import { identityRoutes } from './identity/routes.ts';
import { invitationRoutes, invitationsNotice } from './orgs/invitation-routes.ts';
import { Notices } from './notices/notices.ts';
import { noticeRoutes } from './notices/routes.ts';
import { organizationCsvRoutes } from './orgs/csv-routes.ts';
import { organizationRoutes } from './orgs/routes.ts';
import { privacyRoutes } from './privacy/routes.ts';
import { modelAdminRoutes } from './sharing/admin-routes.ts';
import { sharingRoutes } from './sharing/routes.ts';
import { tlsRoutes } from './tls/routes.ts';
import { tlsReadiness } from './tls/service.ts';

export function routeTable(deps: AppDeps): AnyRoute[] {
  const { identity, orgs, privacy, sharing, demo, limits } = deps.services;
  const checks = [databaseCheck(deps.db), blobStorageCheck(deps.blobs), ...(deps.tls ? [tlsReadiness(deps.tls)] : [])];
  return [
    ...healthRoutes(checks),
    ...tlsRoutes(deps.tls),
    ...identityRoutes(identity, {
      publicUrl: deps.config.public_url,
      loginLifetimeMs: deps.config.auth.login_lifetime,
      demo: !!demo,
      limits,
      sendToPublicUrl: deps.https,
      homeExtra: (person, csrf) => invitationsNotice(orgs, person, csrf),
    }),
    ...meRoutes(identity, { tokenMaxLifetimeMs: deps.config.auth.token_max_lifetime, statusOf: (person) => orgs.statusOf(person) }),
    ...privacyRoutes(privacy, orgs),
    ...invitationRoutes(orgs),
    ...organizationRoutes(orgs),
    ...organizationCsvRoutes(orgs),
    ...noticeRoutes(
      orgs,
      new Notices({
        db: deps.db, clock: deps.clock, orgs, models: sharing.routeDeps.repo, locks: sharing.locks, tls: deps.tls,
        inactiveAfterMs: deps.config.notices.inactive_after, seatsWarnPercent: deps.config.notices.seats_warn_percent,
      }),
    ),
    ...sharingRoutes(sharing.routeDeps),
    ...modelAdminRoutes({ models: sharing.models, locks: sharing.locks, rollbacks: sharing.rollbacks, blobs: deps.blobs, membersCsv: sharing.membersCsv }),
  ];
}
