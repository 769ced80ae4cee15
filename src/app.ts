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
import { blobStorageCheck, databaseCheck, healthRouter } from './http/health.ts';
import { problemMiddleware } from './http/problem.ts';
import { requestLog } from './http/request-log.ts';
import { securityHeaders } from './http/security-headers.ts';
import type { AppState } from './http/state.ts';
import type { Log } from './log.ts';

export interface AppDeps {
  config: Config;
  db: Db;
  keys: Keyring;
  blobs: BlobService;
  clock: Clock;
  log: Log;
  /** Whether this server terminates TLS itself (decides HSTS). */
  https: boolean;
}

export function createApp(deps: AppDeps): Koa<AppState> {
  const app = new Koa<AppState>({ proxy: false });
  // Errors are answered and logged by problemMiddleware; Koa's default stderr printing stays off.
  app.silent = true;

  app.use(requestLog(deps.log));
  app.use(securityHeaders({ https: deps.https }));
  app.use(problemMiddleware());

  // The one route table: each domain's router is mounted here, and nowhere else.
  const root = new Router<AppState>();
  root.use(healthRouter([databaseCheck(deps.db), blobStorageCheck(deps.blobs)]).routes());
  app.use(root.routes()).use(root.allowedMethods());
  return app;
}
