/**
 * The one route table: every HTTP route of the server, each domain's part in turn. The router, the
 * generated refusal tests and the OpenAPI document are all built from this list; a route that is
 * not here does not exist.
 */
import { modelAdminRoutes } from './admin/model-routes.ts';
import { PeopleAdmin } from './admin/people-admin.ts';
import { peopleAdminRoutes } from './admin/people-routes.ts';
import type { AppDeps } from './app.ts';
import { auditRoutes } from './audit/routes.ts';
import { blobIntegrityCheck, blobStorageCheck, databaseCheck, healthRoutes, storageCheck } from './http/health.ts';
import { openApiDocument } from './http/openapi.ts';
import { access, route, type AnyRoute } from './http/route-table.ts';
import { meRoutes } from './identity/me-routes.ts';
import { jobAdminRoutes } from './jobs/admin-routes.ts';
import { identityRoutes } from './identity/routes.ts';
import { invitationRoutes, invitationsNotice } from './orgs/invitation-routes.ts';
import { noticesFrom } from './notices/notices.ts';
import { noticeRoutes } from './notices/routes.ts';
import { organizationCsvRoutes } from './orgs/csv-routes.ts';
import { organizationRoutes } from './orgs/routes.ts';
import { privacyRoutes } from './privacy/routes.ts';
import { modelAdminRoutes as modelManagementRoutes } from './sharing/admin-routes.ts';
import { sharingRoutes } from './sharing/routes.ts';
import { tlsAdminRoutes } from './tls/admin-routes.ts';
import { tlsRoutes } from './tls/routes.ts';
import { tlsReadiness } from './tls/service.ts';
import { metricsRoutes } from './metrics/routes.ts';
import { statusRoutes } from './status/routes.ts';
import { standardSources } from './status/sources.ts';
import { consoleRoutes } from './web/console-routes.ts';
import { replicationCheck } from './replication/status-source.ts';
import { html } from './web/html.ts';

export function routeTable(deps: AppDeps): AnyRoute[] {
  const { identity, orgs, privacy, sharing, demo, limits } = deps.services;
  const notices = noticesFrom(deps.config, { db: deps.db, clock: deps.clock, orgs, models: sharing.routeDeps.repo, locks: sharing.locks, tls: deps.tls });
  const checks = [databaseCheck(deps.db), storageCheck(deps.storage), blobStorageCheck(deps.blobs), blobIntegrityCheck(deps.blobs), ...(deps.tls ? [tlsReadiness(deps.tls)] : []), ...(deps.services.replication ? [replicationCheck(deps.services.replication)] : [])];
  const table: AnyRoute[] = [
    ...healthRoutes(checks),
    ...statusRoutes({ sources: () => [...standardSources(deps), ...deps.services.statusSources], now: () => deps.clock.now(), log: deps.log, demo: !!demo }),
    ...metricsRoutes(deps.services.metrics, { ...deps.config.metrics, db: deps.db, dataDir: deps.config.data_dir, databasePath: deps.config.database.path, tls: deps.tls }),
    ...tlsRoutes(deps.tls),
    ...identityRoutes(identity, {
      publicUrl: deps.config.public_url,
      loginLifetimeMs: deps.config.auth.login_lifetime,
      demo: !!demo,
      limits,
      sendToPublicUrl: deps.https,
      homeExtra: (person, csrf) => html`<p><a href="/console">Open the console</a>: your models, invitations, access tokens and sign-ins (and, for admins, your organization).</p>${invitationsNotice(orgs, person, csrf)}`,
    }),
    ...meRoutes(identity, { tokenMaxLifetimeMs: deps.config.auth.token_max_lifetime, statusOf: (person) => orgs.statusOf(person) }),
    ...privacyRoutes(privacy, orgs),
    ...invitationRoutes(orgs),
    ...organizationRoutes(orgs),
    ...organizationCsvRoutes(orgs),
    ...noticeRoutes(orgs, notices),
    ...sharingRoutes(sharing.routeDeps),
    // The admin API (issue 17): models, people, the audit log and certificates.
    ...modelAdminRoutes({ sharing, orgs, displayName: (personId) => identity.publicPerson(personId).display_name }),
    ...peopleAdminRoutes(new PeopleAdmin({ db: deps.db, keys: deps.keys, identity, orgs, models: sharing.routeDeps.repo, configAdmins: deps.config.auth.admins }), orgs),
    ...auditRoutes({ db: deps.db, keys: deps.keys, orgs }),
    ...tlsAdminRoutes(deps.tls, deps.db, orgs),
    ...jobAdminRoutes(deps.jobs, deps.config, orgs),
    ...consoleRoutes(deps, notices),
    ...modelManagementRoutes({ models: sharing.models, locks: sharing.locks, rollbacks: sharing.rollbacks, blobs: deps.blobs, membersCsv: sharing.membersCsv }),
  ];
  // The contract, made from the table it describes (itself included) on first ask.
  let document: Record<string, unknown> | undefined;
  table.push(
    route({
      method: 'GET', path: '/api/v1/openapi.json', summary: 'This OpenAPI 3.1 document', access: access.public,
      handler: () => (document ??= openApiDocument(table, { version: 'v1', publicUrl: deps.config.public_url })),
    }),
  );
  return table;
}
