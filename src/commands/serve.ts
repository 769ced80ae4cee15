import { createApp } from '../app.ts';
import { openStores } from '../boot.ts';
import { systemClock } from '../clock.ts';
import { listen } from '../server.ts';
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
    const { config, log } = setup(values);
    const stores = openStores(config, log);
    // Nothing is served yet, so every staging file and unreferenced blob is a leftover of a crash.
    const swept = await stores.blobs.sweep(0);
    if (swept.staging + swept.orphans > 0) log.info(swept, 'removed blob leftovers of an earlier run');
    const app = createApp({ config, db: stores.db, keys: stores.keys, blobs: stores.blobs, clock: systemClock, log, https: false });
    const running = await listen(
      app,
      {
        host: config.server.host,
        port: config.server.port,
        maxHeaderSize: config.server.max_header_size,
        requestTimeoutMs: config.server.request_timeout,
      },
      log,
    );
    log.info({ url: `http://${config.server.host}:${running.port}`, data_dir: config.data_dir, production: config.production }, 'modelshare is serving');
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
    await running.close(config.server.shutdown_timeout);
    stores.close();
    log.info('stopped');
    log.flush();
    return 0;
  },
};
