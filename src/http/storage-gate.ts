/**
 * While the data directory is gone (an unmounted share, a removed directory), every request but the
 * health checks answers 503 at once: the database handle would otherwise keep writing to a file no
 * one can see again, and blob reads and writes would fail one by one.
 */
import type { Context, Next } from 'koa';
import type { StorageMonitor } from '../blobs/storage-monitor.ts';

const healthPaths = new Set(['/healthz', '/readyz']);

export function storageGate(storage: Pick<StorageMonitor, 'assertServing'>) {
  return async (ctx: Context, next: Next) => {
    if (!healthPaths.has(ctx.path)) storage.assertServing();
    await next();
  };
}
