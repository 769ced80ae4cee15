/**
 * Opens what every command that touches data needs: the database (migrated), the master keys and
 * the keyring, and the blob service. One place, so `serve`, `keys` and later `backup` open the data
 * directory the same way.
 */
import fs from 'node:fs';
import path from 'node:path';
import { BlobService } from './blobs/blob-service.ts';
import { sharedCryptoPool } from './crypto/crypto-pool.ts';
import type { BlobBackend } from './blobs/backend.ts';
import { fsBackend } from './blobs/fs-backend.ts';
import { s3Backend } from './blobs/s3-backend.ts';
import { BlobRouter, type BackendKind } from './blobs/blob-router.ts';
import { createS3Client } from './blobs/s3-client.ts';
import { StorageMonitor } from './blobs/storage-monitor.ts';
import type { Config } from './config/options.ts';
import { dataKeysByWrappingKey, Keyring } from './crypto/keyring.ts';
import { keyFile, MissingKeyFileError, suppliedKeys, type MasterKeySource } from './crypto/master-keys.ts';
import { migrate, readMigrations } from './db/migrate.ts';
import { openDatabase, type Db } from './db/open.ts';
import type { Log } from './log.ts';

export interface Stores {
  db: Db;
  keys: Keyring;
  blobs: BlobService;
  /** The storage under the blob service (backups copy the sealed files as they are; migrations move them). */
  blobBackend: BlobRouter;
  masterKeys: MasterKeySource;
  /** Watches the data directory and the free space (started by the services, with the server). */
  storage: StorageMonitor;
  close(): void;
}

/** Data that a command needs is not where the configuration points: the message says what is missing. */
export class DataMissingError extends Error {
  override name = 'DataMissingError';
}

/**
 * The master keys. A missing key file is created only for a database that holds no data key yet:
 * with data keys in it, the file was lost (or the path is wrong), and a new key would leave every
 * data key unreadable, so the start is refused, naming the file.
 */
export function openMasterKeys(config: Config, log: Log | undefined, db: Db, options: { create?: boolean } = {}): MasterKeySource {
  if (config.keys.master_key !== undefined) return suppliedKeys(config.keys.master_key);
  const file = path.resolve(config.keys.key_file);
  if (!fs.existsSync(file)) {
    const wrapped = dataKeysByWrappingKey(db);
    const count = [...wrapped.values()].reduce((a, b) => a + b, 0);
    if (count > 0) {
      throw new MissingKeyFileError(
        `the master key file ${file} (keys.key_file) is missing, but the database ${path.resolve(config.database.path)} holds ` +
          `${count} data key(s) wrapped by master key ${[...wrapped.keys()].join(', ')}. Restore the file from your key backup ` +
          '(or set keys.key_file, keys.master_key or keys.master_key_file to it). No new key was made: it could open none of them.',
      );
    }
    if (options.create === false) throw new MissingKeyFileError(`the master key file ${file} (keys.key_file) does not exist; nothing was created`);
  }
  const source = keyFile(config.keys.key_file, { create: options.create ?? true });
  if (source.created) {
    log?.warn(
      { key_file: path.resolve(config.keys.key_file) },
      'CREATED A NEW MASTER KEY FILE. Back it up now, and keep the copy apart from the data and its backups: ' +
        'without this file nothing in the data directory can ever be read again.',
    );
  }
  return source;
}

/** Stores for commands that only read (`keys status`, `certs show`): no blob service, nothing writable. */
export interface ReadOnlyStores {
  db: Db;
  keys: Keyring;
  masterKeys: MasterKeySource;
  close(): void;
}

/**
 * Opens an existing data directory for reading only: the database read-only, the key file as it is.
 * Nothing is created; what is missing (database, migrations, key file) is named in the error.
 */
export function openReadOnlyStores(config: Config): ReadOnlyStores {
  const dbFile = path.resolve(config.database.path);
  if (!fs.existsSync(dbFile)) {
    throw new DataMissingError(
      `there is no database at ${dbFile}: is data_dir (${path.resolve(config.data_dir)}) right? ` +
        'Nothing was created; `modelshare serve` makes a new data directory on its first start.',
    );
  }
  const keyFilePath = path.resolve(config.keys.key_file);
  if (config.keys.master_key === undefined && !fs.existsSync(keyFilePath)) {
    throw new MissingKeyFileError(
      `the master key file ${keyFilePath} (keys.key_file) is missing, but the database ${dbFile} is there: nothing in it can be read without ` +
        'the file. Restore it from your key backup (or set keys.key_file, keys.master_key or keys.master_key_file). Nothing was created.',
    );
  }
  const db = openDatabase(dbFile, { synchronous: config.database.synchronous, busyTimeoutMs: config.database.busy_timeout, readonly: true });
  try {
    const tracked = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get() !== undefined;
    const applied = new Set(tracked ? db.prepare<[], { name: string }>('SELECT name FROM schema_migrations').all().map((r) => r.name) : []);
    const missing = readMigrations().filter((m) => !applied.has(m.name)).map((m) => m.name);
    if (missing.length > 0) throw new DataMissingError(`the database at ${dbFile} lacks migrations ${missing.join(', ')}: run \`modelshare migrate\` first`);
    const masterKeys = openMasterKeys(config, undefined, db, { create: false });
    return { db, keys: new Keyring(db, masterKeys), masterKeys, close: () => db.close() };
  } catch (error) {
    db.close();
    throw error;
  }
}

/**
 * The blob backend `storage.backend` names: the data directory (`dataDir`: the configured one, or the
 * directory a restore writes), or an S3-compatible bucket. `restore --from-replica` checks every
 * referenced blob through it.
 */
export function openBlobBackend(config: Config, log: Log | undefined, backend: Config['storage']['backend'] = config.storage.backend, dataDir = config.data_dir): BlobBackend {
  if (backend === 'fs') return fsBackend(path.join(dataDir, 'blobs'));
  const s3 = config.storage.s3;
  return s3Backend({ client: createS3Client(s3), bucket: s3.bucket, prefix: s3.prefix, partSize: s3.part_size, queueSize: s3.queue_size, log });
}

/**
 * Records where the blobs are on a first start (the configured backend), and refuses a configuration
 * that names a backend the blobs are not on (after `blobs migrate`, storage.backend must follow).
 */
function assertPlacement(db: Db, configured: BackendKind): void {
  db.prepare('INSERT OR IGNORE INTO blob_storage (id, current) VALUES (1, ?)').run(configured);
  const row = db.prepare<[], { current: BackendKind; target: BackendKind | null }>('SELECT current, target FROM blob_storage WHERE id = 1').get()!;
  if (row.current !== configured && row.target !== configured) {
    throw new DataMissingError(
      `the blobs are on the ${row.current} backend (moved there by \`modelshare blobs migrate\`), but storage.backend is ${configured}: ` +
        `set storage.backend to ${row.current}. Nothing was changed.`,
    );
  }
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
    const masterKeys = openMasterKeys(config, log, db);
    const keys = new Keyring(db, masterKeys);
    // The personal-data key exists from the first start, so `keys status` and backups see it at once.
    keys.singleton('personal');
    const blobDir = path.join(config.data_dir, 'blobs');
    assertPlacement(db, config.storage.backend);
    const blobBackend = new BlobRouter(db, (kind) => openBlobBackend(config, log, kind));
    // With blobs in S3, the free space that matters on this machine is the database's.
    const storage = new StorageMonitor({ dataDir: config.data_dir, blobDir: config.storage.backend === 's3' ? config.data_dir : blobDir, minFreeBytes: config.storage.min_free_bytes, intervalMs: config.storage.check_interval, log });
    const pool = config.storage.crypto_workers > 0 ? sharedCryptoPool(config.storage.crypto_workers) : undefined;
    const blobs = new BlobService(db, keys, blobBackend, { log, storage, inlineMaxBytes: config.storage.inline_max_bytes, pool });
    return { db, keys, blobs, blobBackend, masterKeys, storage, close: () => {
      storage.stop();
      blobBackend.close();
      db.close();
    } };
  } catch (error) {
    db.close();
    throw error;
  }
}
