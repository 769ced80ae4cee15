/**
 * `GET /healthz`: the process is alive. `GET /readyz`: it can serve, meaning the database answers and
 * the blob storage takes writes. Load balancers and the Docker healthcheck use these; they reveal
 * nothing but the state of each check.
 */
import Router from '@koa/router';
import type { Db } from '../db/open.ts';
import type { BlobService } from '../blobs/blob-service.ts';
import { AppError } from '../errors.ts';
import type { AppState } from './state.ts';

export interface ReadinessCheck {
  name: string;
  /** Resolves when ready; throws (or returns a warning text) when not. */
  run(): Promise<void>;
}

export function healthRouter(checks: ReadinessCheck[]) {
  const router = new Router<AppState>();
  router.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  router.get('/readyz', async (ctx) => {
    const results: Record<string, string> = {};
    for (const check of checks) {
      try {
        await check.run();
        results[check.name] = 'ok';
      } catch (error) {
        ctx.state.log.warn({ check: check.name, err: error }, 'readiness check failed');
        results[check.name] = 'failing';
      }
    }
    if (Object.values(results).some((r) => r !== 'ok')) {
      throw new AppError('service_unavailable', 'A readiness check is failing', { extra: { checks: results } });
    }
    ctx.body = { status: 'ready', checks: results };
  });
  return router;
}

export function databaseCheck(db: Db): ReadinessCheck {
  return { name: 'database', run: async () => void db.prepare('SELECT 1').get() };
}

export function blobStorageCheck(blobs: BlobService): ReadinessCheck {
  return { name: 'blob_storage', run: () => blobs.check() };
}
