/**
 * A real Modelshare server in this process for the benchmarks (managed TLS, a temp data dir), people
 * with tokens, and the bare HTTPS baselines measured beside it with the same certificate.
 */
import fs from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Agent } from 'undici';
import { createApp } from '../src/app.ts';
import { openStores } from '../src/boot.ts';
import { systemClock } from '../src/clock.ts';
import { loadConfig } from '../src/config/load.ts';
import { createLogger } from '../src/log.ts';
import { listen } from '../src/server.ts';
import { createServices } from '../src/services.ts';
import { TlsService } from '../src/tls/service.ts';

export async function benchServer(env: Record<string, string> = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'modelshare-bench-'));
  const config = loadConfig({ env: { MODELSHARE_DATA_DIR: dir, MODELSHARE_SERVER_PORT: '0', MODELSHARE_LOG_LEVEL: 'error', MODELSHARE_DEMO_ENABLED: 'off', MODELSHARE_STORAGE_MIN_FREE_BYTES: '0', ...env } });
  const log = createLogger('error', 2);
  const stores = openStores(config, log);
  const tls = await TlsService.start({ config, db: stores.db, keys: stores.keys, clock: systemClock, log });
  const services = createServices(config, stores, systemClock, log, { caPem: tls.authority?.certificatePem });
  const app = createApp({ config, db: stores.db, keys: stores.keys, blobs: stores.blobs, storage: stores.storage, clock: systemClock, log, https: true, tls, services });
  const running = await listen(app, { host: '127.0.0.1', port: 0, maxHeaderSize: 16384, requestTimeoutMs: 3_600_000, tls }, log);
  const ca = tls.authority!.certificatePem;
  return {
    url: `https://127.0.0.1:${running.port}`,
    ca,
    dir,
    services,
    tls,
    agent: (connections: number) => new Agent({ connect: { ca }, connections, pipelining: 1 }),
    person(name: string) {
      const p = services.identity.people.signIn({ issuer: 'https://bench.example', subject: name, email: `${name}@bench.example`, emailVerified: true, name, serverAdmin: false });
      return { id: p.id, token: services.identity.tokens.startLogin(p.id, 'bench').tokens.access_token };
    },
    /** Options for a bare https server with this server's certificate. */
    httpsOptions: () => tls.current(),
    async close() {
      services.stop();
      await running.close(1000);
      tls.close();
      stores.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Starts a bare HTTPS server (the baseline) with the given handler. */
export async function bareServer(options: https.ServerOptions, handler: Parameters<typeof https.createServer>[1]) {
  const server = https.createServer({ ...options, keepAlive: true }, handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
