/**
 * `GET /healthz`: the process is alive. `GET /readyz`: it can serve, meaning the database answers,
 * the blob storage takes writes and the TLS certificate is valid. Load balancers and the Docker
 * healthcheck use these; they reveal nothing but the state of each check (and the certificate's
 * expiry, which every TLS client sees anyway).
 */
import type { Db } from '../db/open.ts';
import type { BlobService } from '../blobs/blob-service.ts';
import type { StorageMonitor } from '../blobs/storage-monitor.ts';
import { AppError } from '../errors.ts';
import { version } from '../version.ts';
import { access, route, type AnyRoute } from './route-table.ts';

export interface ReadinessCheck {
  name: string;
  /** Resolves when ready, optionally with a report; throws when not ready. */
  run(): Promise<void | CheckReport>;
}

/** A ready check may still warn: `state` other than `ok` (e.g. `expiring`) keeps /readyz at 200. */
export interface CheckReport {
  state: string;
  /** Serving, but not fully (e.g. uploads refused): /readyz stays 200 and says `degraded`. */
  degraded?: boolean;
  /** Shown in the /readyz body under the check's name. */
  details?: Record<string, unknown>;
}

export function healthRoutes(checks: ReadinessCheck[]): AnyRoute[] {
  return [
    route({ method: 'GET', path: '/healthz', summary: 'The process is alive', access: access.public, handler: () => ({ status: 'ok', version }) }),
    route({
      method: 'GET', path: '/readyz', summary: 'The server can serve: database, blob storage, certificate', access: access.public,
      handler: async (_input, ctx) => {
        const results: Record<string, string> = {};
        const details: Record<string, Record<string, unknown>> = {};
        let failing = false;
        let degraded = false;
        for (const check of checks) {
          try {
            const report = await check.run();
            results[check.name] = report?.state ?? 'ok';
            if (report?.degraded) degraded = true;
            if (report?.details) details[check.name] = report.details;
          } catch (error) {
            ctx.state.log.warn({ check: check.name, err: error }, 'readiness check failed');
            results[check.name] = 'failing';
            failing = true;
          }
        }
        if (failing) throw new AppError('service_unavailable', 'A readiness check is failing', { extra: { checks: results } });
        return { status: degraded ? 'degraded' : 'ready', checks: results, ...details };
      },
    }),
  ];
}

export function databaseCheck(db: Db): ReadinessCheck {
  return { name: 'database', run: async () => void db.prepare('SELECT 1').get() };
}

export function blobStorageCheck(blobs: BlobService): ReadinessCheck {
  return { name: 'blob_storage', run: () => blobs.check() };
}

/** The data directory is there and has room: gone is not ready, below the free-space floor is degraded. */
export function storageCheck(storage: StorageMonitor): ReadinessCheck {
  return {
    name: 'storage',
    run: async () => {
      const status = await storage.check();
      if (status.state === 'missing') throw new Error('the data directory is gone or is not the one the server opened');
      return status.state === 'low_space' ? { state: 'low_space', degraded: true } : undefined;
    },
  };
}

/** Blobs found damaged: still serving everything else, so degraded, with how many. */
export function blobIntegrityCheck(blobs: BlobService): ReadinessCheck {
  return {
    name: 'blob_integrity',
    run: async () => {
      const damaged = blobs.damage.count();
      return damaged === 0 ? undefined : { state: 'damaged', degraded: true, details: { damaged_blobs: damaged } };
    },
  };
}
