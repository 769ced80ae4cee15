/**
 * createApp(deps): the middleware order and the mounted routers, nothing else. Everything the app
 * needs is passed in, so tests can start many isolated servers side by side.
 */
import Router from '@koa/router';
import Koa from 'koa';
import type { BlobService } from './blobs/blob-service.ts';
import type { Clock } from './clock.ts';
import type { Config } from './config/options.ts';
import type { Keyring } from './crypto/keyring.ts';
import type { Db } from './db/open.ts';
import { blobIntegrityCheck, blobStorageCheck, databaseCheck, healthRouter, storageCheck } from './http/health.ts';
import { problemMiddleware } from './http/problem.ts';
import { requestLog } from './http/request-log.ts';
import { securityHeaders } from './http/security-headers.ts';
import { storageGate } from './http/storage-gate.ts';
import type { StorageMonitor } from './blobs/storage-monitor.ts';
import type { AppState } from './http/state.ts';
import { authenticate } from './http/authenticate.ts';
import { identityAuthenticator } from './identity/authenticator.ts';
import { meRouter } from './identity/me-routes.ts';
import { identityRouter } from './identity/routes.ts';
import type { Log } from './log.ts';
import { sharingRouter } from './sharing/routes.ts';
import { organizationsAdminRouter } from './orgs/admin-routes.ts';
import { invitationsNotice, invitationsRouter } from './orgs/invitation-routes.ts';
import { organizationsRouter } from './orgs/routes.ts';
import { privacyRouter } from './privacy/routes.ts';
import type { Services } from './services.ts';
import { tlsRouter } from './tls/routes.ts';
import { tlsReadiness, type TlsService } from './tls/service.ts';

export interface AppDeps {
  config: Config;
  db: Db;
  keys: Keyring;
  blobs: BlobService;
  /** The data directory's watch: while it is gone, requests answer 503. */
  storage: StorageMonitor;
  clock: Clock;
  log: Log;
  /** Whether this server terminates TLS itself (decides HSTS). */
  https: boolean;
  /** The certificate being served (for /ca.pem and /readyz); absent when tls.mode is off. */
  tls?: TlsService | undefined;
  services: Services;
}

export function createApp(deps: AppDeps): Koa<AppState> {
  // Behind a reverse proxy (server.trust_proxy), ctx.ip and ctx.secure come from X-Forwarded-*.
  const app = new Koa<AppState>({ proxy: deps.config.server.trust_proxy });
  // Errors are answered and logged by problemMiddleware; Koa's default stderr printing stays off.
  app.silent = true;

  app.use(requestLog(deps.log));
  app.use(securityHeaders({ https: deps.https }));
  app.use(problemMiddleware());
  app.use(storageGate(deps.storage));
  const { identity, audit, demo, orgs, privacy } = deps.services;
  // The demo provider is its own OpenID provider with its own client authentication: it comes first.
  if (demo) app.use(demo.middleware());
  app.use(authenticate(identityAuthenticator(identity, audit)));

  // The one route table: each domain's router is mounted here, and nowhere else.
  const root = new Router<AppState>();
  const checks = [databaseCheck(deps.db), storageCheck(deps.storage), blobStorageCheck(deps.blobs), blobIntegrityCheck(deps.blobs), ...(deps.tls ? [tlsReadiness(deps.tls)] : [])];
  root.use(healthRouter(checks).routes());
  root.use(tlsRouter(deps.tls).routes());
  const bodyLimit = deps.config.limits.json_body;
  const homeExtra = (person: Parameters<typeof invitationsNotice>[1], csrf: string) => invitationsNotice(orgs, person, csrf);
  const routeOptions = { publicUrl: deps.config.public_url, bodyLimit, loginLifetimeMs: deps.config.auth.login_lifetime, demo: !!demo, now: () => deps.clock.now(), homeExtra };
  root.use(identityRouter(identity, routeOptions).routes());
  root.use(privacyRouter(privacy).routes());
  root.use(meRouter(identity, { bodyLimit, tokenMaxLifetimeMs: deps.config.auth.token_max_lifetime, statusOf: (person) => orgs.statusOf(person) }).routes());
  root.use(invitationsRouter(orgs, { bodyLimit }).routes());
  root.use(organizationsAdminRouter(orgs, { bodyLimit }).routes());
  root.use(organizationsRouter(orgs, { bodyLimit }).routes());
  root.use(sharingRouter(deps.services.sharing.routeDeps).routes());
  app.use(root.routes()).use(root.allowedMethods());
  return app;
}
