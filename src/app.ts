/**
 * createApp(deps): the middleware order and the one router built from the route table, nothing
 * else. Everything the app needs is passed in, so tests can start many isolated servers side by side.
 */
import Koa from 'koa';
import type { BlobService } from './blobs/blob-service.ts';
import type { Clock } from './clock.ts';
import type { Config } from './config/options.ts';
import type { Keyring } from './crypto/keyring.ts';
import type { Db } from './db/open.ts';
import { problemMiddleware } from './http/problem.ts';
import { requestLog } from './http/request-log.ts';
import type { AnyRoute } from './http/route-table.ts';
import { buildRouter } from './http/router.ts';
import { securityHeaders } from './http/security-headers.ts';
import { storageGate } from './http/storage-gate.ts';
import type { StorageMonitor } from './blobs/storage-monitor.ts';
import type { AppState } from './http/state.ts';
import type { Log } from './log.ts';
import { routeTable } from './routes.ts';
import type { Jobs } from './jobs/setup.ts';
import type { Services } from './services.ts';
import type { TlsService } from './tls/service.ts';

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
  /** The jobs of this server (for the admin API's jobs and backups); absent in a bare app. */
  jobs?: Jobs | undefined;
}

export type App = Koa<AppState> & { routes: readonly AnyRoute[] };

export function createApp(deps: AppDeps): App {
  // Behind a reverse proxy (server.trust_proxy), ctx.ip and ctx.secure come from X-Forwarded-*.
  const app = new Koa<AppState>({ proxy: deps.config.server.trust_proxy });
  // Errors are answered by problemMiddleware; one that happens after the headers went out reaches
  // Koa's error event, and is logged there with its request id.
  app.silent = true;
  app.on('error', (error: unknown, ctx?: { state?: AppState }) => {
    const log = ctx?.state?.log ?? deps.log;
    log.error({ err: error }, 'error after the response began');
  });

  app.use(requestLog(deps.log));
  app.use(deps.services.metrics.middleware());
  app.use(securityHeaders({ https: deps.https }));
  app.use(problemMiddleware());
  // While the data directory is gone, every request but the health checks answers 503 (storage-gate.ts).
  app.use(storageGate(deps.storage));
  // The demo provider is its own OpenID provider with its own client authentication, under its own
  // prefix; it is not part of our API and is never mounted outside the demo.
  if (deps.services.demo) app.use(deps.services.demo.middleware());

  const routes = routeTable(deps);
  const router = buildRouter(routes, {
    authenticator: deps.services.authenticator,
    audit: deps.services.audit,
    limits: deps.services.limits,
    bodyLimit: deps.config.limits.json_body,
  });
  app.use(router.routes()).use(router.allowedMethods());
  return Object.assign(app, { routes });
}
