/**
 * Starts a real server in this process: real config loading, a real SQLite file in a temp dir, the
 * real app on a random loopback port, serving HTTPS with its own CA (tls.mode managed) unless the
 * test sets another mode. Each test gets its own, so tests never share state. `server.fetch` trusts
 * that server's CA.
 */
import { Writable } from 'node:stream';
import type { ExecutionContext } from 'ava';
import { createApp, type App } from '../../src/app.ts';
import { openStores, type Stores } from '../../src/boot.ts';
import type { Clock } from '../../src/clock.ts';
import { loadConfig } from '../../src/config/load.ts';
import type { Config } from '../../src/config/options.ts';
import { createLogger } from '../../src/log.ts';
import { createJobs, type Jobs } from '../../src/jobs/setup.ts';
import { listen } from '../../src/server.ts';
import { TlsService } from '../../src/tls/service.ts';
import { trustingFetch, type Fetch } from './https.ts';
import { createServices, type Services } from '../../src/services.ts';
import { loadDemoFactory } from '../../src/identity/sign-in-setup.ts';
import { tmpDir } from './tmp.ts';
import { testBlobEnv } from './s3.ts';

export interface TestServer {
  url: string;
  config: Config;
  stores: Stores;
  services: Services;
  dataDir: string;
  /** Every log line the server wrote, parsed. */
  logs: Record<string, unknown>[];
  port: number;
  /** The TLS service (absent with tls.mode off). */
  tls: TlsService | undefined;
  /** The CA certificate (PEM) the server's certificate chains to, in managed mode. */
  ca: string | undefined;
  /** fetch that trusts this server's CA. */
  fetch: Fetch;
  /** The route table the server was built from. */
  routes: App['routes'];
  /** Runs a scheduled job by name, through the same runner the scheduler uses (lease, record). */
  runJob(name: string): Promise<{ ok: boolean; outcome: string }>;
  /** The jobs of this server: runner, backups (when backup.dir is set), retention. */
  jobs: Jobs;
  clock: Clock;
}

/**
 * A clock the test moves by hand. It starts at the real time: the server issues its certificates by
 * its clock, and real TLS clients check them against the real time.
 */
export function testClock(start = new Date()): Clock & { advance(ms: number): void } {
  let now = start.getTime();
  return { now: () => new Date(now), advance: (ms) => void (now += ms) };
}

export function logCollector(): { stream: Writable; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  return { stream, lines };
}

/**
 * Every test server has an organization, as every real install does: people of firm.example are its
 * members, so the sharing gate is always in play (never the open gate of an install without one).
 */
export const defaultOrganizations = JSON.stringify([{ id: 'test-firm', name: 'Test Firm', domains: ['firm.example'], admin_groups: ['test-firm-admins'], seats: 1000 }]);

export async function startServer(t: ExecutionContext, env: Record<string, string> = {}, clock: Clock = testClock()): Promise<TestServer> {
  const dataDir = tmpDir(t);
  const config = loadConfig({
    file: undefined,
    // No demo sign-in unless a test asks: it would declare its demo organization.
    env: { MODELSHARE_DATA_DIR: dataDir, MODELSHARE_SERVER_PORT: '0', MODELSHARE_LOG_LEVEL: 'debug', MODELSHARE_DEMO_ENABLED: 'off', MODELSHARE_ORGANIZATIONS: defaultOrganizations, MODELSHARE_STORAGE_MIN_FREE_BYTES: '0', ...(await testBlobEnv()), ...env },
  });
  const { stream, lines } = logCollector();
  const log = createLogger(config.log.level, stream);
  const stores = openStores(config, log);
  const tls = config.tls.mode === 'off'
    ? undefined
    : await TlsService.start({ config, db: stores.db, keys: stores.keys, clock, log }).catch((error: unknown) => {
        stores.close();
        throw error;
      });
  if (tls) t.teardown(() => tls.close());
  const ca = tls?.authority?.certificatePem;
  const services = createServices(config, stores, clock, log, { caPem: ca, demoFactory: await loadDemoFactory(config) });
  const jobs = createJobs({ config, stores, services, clock, log, tls: tls && (() => Promise.resolve(tls)) });
  const app = createApp({ config, db: stores.db, keys: stores.keys, blobs: stores.blobs, storage: stores.storage, clock, log, https: tls !== undefined, tls, services, jobs });
  const running = await listen(app, { host: '127.0.0.1', port: 0, maxHeaderSize: config.server.max_header_size, requestTimeoutMs: config.server.request_timeout, headerTimeoutMs: config.server.header_timeout, idleTimeoutMs: config.server.idle_timeout, tls }, log);
  services.start();
  t.teardown(async () => {
    services.stop();
    await running.close(1000);
    stores.close();
  });
  return {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${running.port}`,
    config,
    stores,
    services,
    dataDir,
    logs: lines,
    port: running.port,
    tls,
    ca,
    fetch: trustingFetch(t, ca),
    routes: app.routes,
    jobs,
    clock,
    runJob: async (name) => {
      const report = await jobs.runner.run(jobs.find(name) ?? assertNever(name), 'command');
      return { ok: report.outcome === 'ok', outcome: report.outcome === 'ok' ? report.summary : (report.error ?? report.summary) };
    },
  };
}

function assertNever(name: string): never {
  throw new Error(`there is no scheduled job ${name}`);
}
