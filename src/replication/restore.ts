/**
 * `restore --from-replica`: the database from the replica (its latest state, or the state at a given
 * time) into a data directory, by `litestream restore`, then the checks a restored database must pass
 * (backup/restore.ts) and a look for every blob it references in the configured blob storage, which
 * the standby shares with the lost primary. The master key is never in the replica: the standby
 * reads the kept key file, as after a restore from a backup.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { eachLimited } from '../backup/backup-service.ts';
import { checkRestoredDatabase } from '../backup/restore.ts';
import { databaseName, fsyncPath } from '../backup/store.ts';
import type { BlobBackend } from '../blobs/backend.ts';
import type { Config } from '../config/options.ts';
import type { MasterKeySource } from '../crypto/master-keys.ts';
import { litestreamBinary, litestreamEnv, writeLitestreamConfig } from './litestream-config.ts';

export class ReplicaRestoreError extends Error {
  override name = 'ReplicaRestoreError';
}

export interface ReplicaRestoreReport {
  target: string;
  database: string;
  /** The point asked for, or undefined for the latest. */
  at: Date | undefined;
  blobs: number;
  /** Blobs the database references that the blob storage does not hold. */
  missing: string[];
  keysChecked: boolean;
  seconds: number;
}

/** Runs the Litestream binary to completion; rejects with its own words when it fails. */
export function runLitestream(config: Config, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(litestreamBinary(), args, { env: litestreamEnv(config), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve(out) : reject(new ReplicaRestoreError(`litestream ${args[0]} failed (exit ${code}): ${out.trim().split('\n').slice(-3).join(' ')}`))));
  });
}

/** A Litestream config for one command, in a private temporary directory; removed by `done`. */
export function oneOffConfig(config: Config): { file: string; done(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'modelshare-litestream-'));
  const file = writeLitestreamConfig(config, path.join(dir, 'litestream.yml'));
  return { file, done: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

export async function restoreFromReplica(
  config: Config,
  targetDir: string,
  options: { at?: Date | undefined; masterKeys?: MasterKeySource | undefined; blobs: (dataDir: string) => BlobBackend },
): Promise<ReplicaRestoreReport> {
  const started = Date.now();
  if (!config.replication.enabled) throw new ReplicaRestoreError('replication is not configured: set replication.enabled and its target (the same as the primary\'s)');
  const target = path.resolve(targetDir);
  const database = path.join(target, databaseName);
  // The blob mount or the kept key file may already be in the directory; a database never is.
  for (const file of [database, `${database}-wal`]) {
    if (fs.existsSync(file)) throw new ReplicaRestoreError(`${file} exists: restore only into a data directory without a database, so nothing is overwritten`);
  }
  fs.mkdirSync(target, { recursive: true, mode: 0o700 });
  const restoring = `${database}.restoring`;
  fs.rmSync(restoring, { force: true });
  const litestream = oneOffConfig(config);
  try {
    const args = ['restore', '-config', litestream.file, '-o', restoring];
    if (options.at) args.push('-timestamp', options.at.toISOString());
    await runLitestream(config, [...args, path.resolve(config.database.path)]);
    fs.chmodSync(restoring, 0o600);
    const db = new Database(restoring);
    let ids: string[];
    try {
      checkRestoredDatabase(db, options.masterKeys);
      ids = (db.prepare('SELECT id FROM blobs').all() as { id: string }[]).map((r) => r.id);
    } finally {
      db.close();
    }
    const backend = options.blobs(target);
    const missing: string[] = [];
    await eachLimited(ids, 8, async (id) => {
      if ((await backend.size(id)) === undefined) missing.push(id);
    });
    fs.renameSync(restoring, database);
    await fsyncPath(target);
    return { target, database, at: options.at, blobs: ids.length, missing: missing.sort(), keysChecked: options.masterKeys !== undefined, seconds: (Date.now() - started) / 1000 };
  } catch (error) {
    for (const file of [restoring, `${restoring}-wal`, `${restoring}-shm`]) fs.rmSync(file, { force: true });
    throw error;
  } finally {
    litestream.done();
  }
}
