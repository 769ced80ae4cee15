import { createApp } from '../app.ts';
import { AppError } from '../errors.ts';
import { auditJobs } from '../audit/jobs.ts';
import { sweepLeftovers } from '../blobs/leftover-sweep.ts';
import { openStores } from '../boot.ts';
import { systemClock } from '../clock.ts';
import { startScheduler } from '../jobs/scheduler.ts';
import { createJobs } from '../jobs/setup.ts';
import { listen } from '../server.ts';
import { listenRedirect } from '../tls/redirect.ts';
import { TlsService } from '../tls/service.ts';
import { createServices } from '../services.ts';
import { version } from '../version.ts';
import { assertServable } from '../config/validate.ts';
import { announceSignIn, loadDemoFactory } from '../identity/sign-in-setup.ts';
import type { Command } from './index.ts';
import { parse, setup } from './common.ts';

export const serveCommand: Command = {
  summary: 'run the server',
  help:
    'Usage: modelshare serve [--config FILE]\n\n' +
    'Validates the configuration, applies migrations, opens the data directory and serves until SIGTERM\n' +
    'or SIGINT, then finishes the requests in flight (up to server.shutdown_timeout) and exits.\n',
  async run(args) {
    const { values } = parse(args, {});
    const { config, log } = setup(values, 'stdout');
    log.info({ version, node: process.version, pid: process.pid }, `modelshare ${version} starting`);
    // The same checks as `config check`: what one accepts, the other serves.
    assertServable(config);
    const demoFactory = await loadDemoFactory(config);
    // Every blob file older than this instant is a leftover of an earlier run, if no row names it.
    const startedAt = Date.now();
    const stores = openStores(config, log);
    if (config.storage.backend === 's3') {
      // In a bucket an object's time is the store's clock, not ours, so the sweep cannot tell this
      // run's writes from leftovers by time: it runs before serving, when every upload in progress and
      // every object without a row is a leftover of a crash. (On the file system it runs in the
      // background after listening; see below.)
      const swept = await stores.blobs.sweep(0).catch((error: unknown) => {
        // Object storage that cannot be reached right now must not stop the start: requests that need
        // blobs answer 503 until it is back, and the blob_sweep job removes the leftovers later.
        if (!(error instanceof AppError && error.code === 'service_unavailable')) throw error;
        log.warn('the blob storage cannot be reached: the start-up sweep of blob leftovers is left to the blob_sweep job');
        return { staging: 0, orphans: 0 };
      });
      if (swept.staging + swept.orphans > 0) log.info(swept, 'removed blob leftovers of an earlier run');
    }
    // The certificate comes before listening: a bad certificate file stops the start, naming it.
    const tls = config.tls.mode === 'off' ? undefined : await TlsService.start({ config, db: stores.db, keys: stores.keys, clock: systemClock, log });
    const services = createServices(config, stores, systemClock, log, { caPem: tls?.authority?.certificatePem, demoFactory });
    announceSignIn(config, services.demo !== undefined, log);
    // Checks backup.dir before serving: a missing or misplaced backup directory stops the start.
    const jobs = createJobs({ config, stores, services, clock: systemClock, log, tls: tls && (() => Promise.resolve(tls)) });
    const app = createApp({ config, db: stores.db, keys: stores.keys, blobs: stores.blobs, storage: stores.storage, clock: systemClock, log, https: tls !== undefined, tls, services, jobs });
    const running = await listen(
      app,
      {
        host: config.server.host,
        port: config.server.port,
        maxHeaderSize: config.server.max_header_size,
        requestTimeoutMs: config.server.request_timeout,
        headerTimeoutMs: config.server.header_timeout,
        idleTimeoutMs: config.server.idle_timeout,
        tls,
      },
      log,
    );
    // The digest and AEAD workers start now that the server serves, not on the first large upload.
    stores.blobs.warm();
    const redirect = tls && config.tls.redirect_port !== 0
      ? await listenRedirect({ host: config.server.host, port: config.tls.redirect_port, publicUrl: config.public_url }, log)
      : undefined;
    const scheduler = startScheduler(jobs.list, jobs.runner, log, config.jobs.time_zone);
    // After listening, in the background: a million blob files must not delay the start (see leftover-sweep.ts).
    // On the file system only (S3 was swept above, before serving).
    const leftovers = config.storage.backend === 'fs' ? sweepLeftovers(stores.blobs, stores.blobBackend.backend('fs'), startedAt) : undefined;
    const swept = leftovers?.done.then(
      (r) => void (r.staging + r.orphans > 0 && log.info(r, 'removed blob leftovers of an earlier run')),
      (error: unknown) => log.error({ err: error }, 'the sweep of blob leftovers failed; the hourly blob-sweep job will retry'),
    ) ?? Promise.resolve();
    services.start();
    if (tls?.authority) {
      log.info(
        { ca_fingerprint: tls.authority.fingerprint, ca_url: `${config.public_url}/ca.pem` },
        'clients trust this server through its own CA: install ca.pem after checking its SHA-256 fingerprint, or pin the fingerprint',
      );
    }
    const host = config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host;
    const url = `${tls ? 'https' : 'http'}://${host}:${running.port}`;
    log.info({ url, public_url: config.public_url, tls: config.tls.mode, data_dir: config.data_dir, production: config.production }, 'modelshare is serving');
    await new Promise<void>((resolve) => {
      const stop = (signal: string) => {
        log.info({ signal }, 'shutting down: finishing requests in flight');
        process.off('SIGTERM', stop);
        process.off('SIGINT', stop);
        resolve();
      };
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    });
    // A running job gets the shutdown timeout to finish, then stops at its next safe point.
    await scheduler.stop(config.server.shutdown_timeout);
    // The sweep gets the same time to finish as a job; then it stops at its next file.
    const waited = new Promise((resolve) => setTimeout(resolve, config.server.shutdown_timeout).unref());
    await Promise.race([swept, waited]);
    leftovers?.stop();
    await swept;
    await redirect?.close();
    await running.close(config.server.shutdown_timeout);
    tls?.close();
    // Litestream ships what is left and exits before the database closes under it.
    await services.replication?.stop();
    services.stop();
    stores.close();
    log.info('stopped');
    log.flush();
    return 0;
  },
};
