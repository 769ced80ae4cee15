import type { ExecutionContext } from 'ava';
import { openStores } from '../../src/boot.ts';
import { loadConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/log.ts';
import { logCollector } from './server.ts';
import { tmpDir } from './tmp.ts';

/** The database, keyring and blob service over a fresh data dir, without a server. */
export function openTestStores(t: ExecutionContext, env: Record<string, string> = {}, dataDir = tmpDir(t)) {
  const config = loadConfig({ env: { MODELSHARE_DATA_DIR: dataDir, MODELSHARE_STORAGE_MIN_FREE_BYTES: '0', ...env } });
  const { stream, lines } = logCollector();
  const stores = openStores(config, createLogger('info', stream));
  t.teardown(() => stores.close());
  return { ...stores, config, dataDir, logs: lines };
}
