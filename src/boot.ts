/**
 * Opens what every command that touches data needs: the database (migrated), the master keys and
 * the keyring, and the blob service. One place, so `serve`, `keys` and later `backup` open the data
 * directory the same way.
 */
import fs from 'node:fs';
import path from 'node:path';
import { BlobService } from './blobs/blob-service.ts';
import { fsBackend } from './blobs/fs-backend.ts';
import { StorageMonitor } from './blobs/storage-monitor.ts';
import type { Config } from './config/options.ts';
import { Keyring } from './crypto/keyring.ts';
import { keyFile, suppliedKeys, type MasterKeySource } from './crypto/master-keys.ts';
import { migrate } from './db/migrate.ts';
import { openDatabase, type Db } from './db/open.ts';
import type { Log } from './log.ts';

export interface Stores {
  db: Db;
  keys: Keyring;
  blobs: BlobService;
  masterKeys: MasterKeySource;
  /** Watches the data directory and the free space (started by the services, with the server). */
  storage: StorageMonitor;
  close(): void;
}

export function openMasterKeys(config: Config, log: Log): MasterKeySource {
  if (config.keys.master_key !== undefined) return suppliedKeys(config.keys.master_key);
  const source = keyFile(config.keys.key_file);
  if (source.created) {
    log.warn(
      { key_file: path.resolve(config.keys.key_file) },
      'CREATED A NEW MASTER KEY FILE. Back it up now, and keep the copy apart from the data and its backups: ' +
        'without this file nothing in the data directory can ever be read again.',
    );
  }
  return source;
}

export function openStores(config: Config, log: Log): Stores {
  fs.mkdirSync(config.data_dir, { recursive: true, mode: 0o700 });
  const db = openDatabase(config.database.path, {
    synchronous: config.database.synchronous,
    busyTimeoutMs: config.database.busy_timeout,
  });
  try {
    const applied = migrate(db);
    if (applied.length > 0) log.info({ migrations: applied }, 'database migrated');
    const masterKeys = openMasterKeys(config, log);
    const keys = new Keyring(db, masterKeys);
    // The personal-data key exists from the first start, so `keys status` and backups see it at once.
    keys.singleton('personal');
    const blobDir = path.join(config.data_dir, 'blobs');
    const backend = fsBackend(blobDir);
    const storage = new StorageMonitor({ dataDir: config.data_dir, blobDir, minFreeBytes: config.storage.min_free_bytes, intervalMs: config.storage.check_interval, log });
    const blobs = new BlobService(db, keys, backend, { log, storage });
    return { db, keys, blobs, masterKeys, storage, close: () => {
      storage.stop();
      db.close();
    } };
  } catch (error) {
    db.close();
    throw error;
  }
}
