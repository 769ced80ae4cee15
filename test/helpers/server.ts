/**
 * Starts a real server in this process: real config loading, a real SQLite file in a temp dir, the
 * real app on a random loopback port. Each test gets its own, so tests never share state.
 */
import { Writable } from 'node:stream';
import type { ExecutionContext } from 'ava';
import { createApp } from '../../src/app.ts';
import { openStores, type Stores } from '../../src/boot.ts';
import type { Clock } from '../../src/clock.ts';
import { loadConfig } from '../../src/config/load.ts';
import type { Config } from '../../src/config/options.ts';
import { createLogger } from '../../src/log.ts';
import { listen } from '../../src/server.ts';
import { tmpDir } from './tmp.ts';

export interface TestServer {
  url: string;
  config: Config;
  stores: Stores;
  dataDir: string;
  /** Every log line the server wrote, parsed. */
  logs: Record<string, unknown>[];
}

/** A clock the test moves by hand. */
export function testClock(start = new Date('2026-11-23T12:00:00Z')): Clock & { advance(ms: number): void } {
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

export async function startServer(t: ExecutionContext, env: Record<string, string> = {}, clock: Clock = testClock()): Promise<TestServer> {
  const dataDir = tmpDir(t);
  const config = loadConfig({
    file: undefined,
    env: { MODELSHARE_DATA_DIR: dataDir, MODELSHARE_SERVER_PORT: '0', MODELSHARE_LOG_LEVEL: 'debug', ...env },
  });
  const { stream, lines } = logCollector();
  const log = createLogger(config.log.level, stream);
  const stores = openStores(config, log);
  const app = createApp({ config, db: stores.db, keys: stores.keys, blobs: stores.blobs, clock, log, https: false });
  const running = await listen(app, { host: '127.0.0.1', port: 0, maxHeaderSize: config.server.max_header_size, requestTimeoutMs: 60_000 }, log);
  t.teardown(async () => {
    await running.close(1000);
    stores.close();
  });
  return { url: `http://127.0.0.1:${running.port}`, config, stores, dataDir, logs: lines };
}
