import { createApp } from '../app.ts';
import { openStores } from '../boot.ts';
import { systemClock } from '../clock.ts';
import { scheduledJobs } from '../jobs/jobs.ts';
import { startScheduler } from '../jobs/scheduler.ts';
import { listen } from '../server.ts';
import { listenRedirect } from '../tls/redirect.ts';
import { TlsService } from '../tls/service.ts';
import { createServices } from '../services.ts';
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
    const stores = openStores(config, log);
    // Nothing is served yet, so every staging file and unreferenced blob is a leftover of a crash.
    const swept = await stores.blobs.sweep(0);
    if (swept.staging + swept.orphans > 0) log.info(swept, 'removed blob leftovers of an earlier run');
    // The certificate comes before listening: a bad certificate file stops the start, naming it.
    const tls = config.tls.mode === 'off' ? undefined : await TlsService.start({ config, db: stores.db, keys: stores.keys, clock: systemClock, log });
    const services = createServices(config, stores, systemClock, log, { caPem: tls?.authority?.certificatePem });
    const app = createApp({ config, db: stores.db, keys: stores.keys, blobs: stores.blobs, storage: stores.storage, clock: systemClock, log, https: tls !== undefined, tls, services });
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
    const redirect = tls && config.tls.redirect_port !== 0
      ? await listenRedirect({ host: config.server.host, port: config.tls.redirect_port, publicUrl: config.public_url }, log)
      : undefined;
    const scheduler = startScheduler(scheduledJobs({ tls, orgs: services.orgs }), log);
    services.start();
    if (tls?.authority) {
      log.info(
        { ca_fingerprint: tls.authority.fingerprint, ca_url: `${config.public_url}/ca.pem` },
        'clients trust this server through its own CA: install ca.pem after checking its SHA-256 fingerprint, or pin the fingerprint',
      );
    }
    const host = config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host;
    const url = `${tls ? 'https' : 'http'}://${host}:${running.port}`;
    log.info({ url, tls: config.tls.mode, data_dir: config.data_dir, production: config.production }, 'modelshare is serving');
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
    await scheduler.stop();
    await redirect?.close();
    await running.close(config.server.shutdown_timeout);
    tls?.close();
    services.stop();
    stores.close();
    log.info('stopped');
    log.flush();
    return 0;
  },
};
