/** `modelshare replication status` and `modelshare restore --from-replica [--at TIME] --data-dir DIR`. */
import fs from 'node:fs';
import { openBlobBackend } from '../boot.ts';
import type { Config } from '../config/options.ts';
import { keyFile, suppliedKeys, type MasterKeySource } from '../crypto/master-keys.ts';
import { describeTarget, statusFile, type ReplicationStatus } from '../replication/replication-service.ts';
import { oneOffConfig, restoreFromReplica, runLitestream } from '../replication/restore.ts';
import type { Command } from './index.ts';
import { parse, setup } from './common.ts';

/** The configured master keys if they exist; never creates a key file (a restore must use the kept one). */
export function existingMasterKeys(config: Config): MasterKeySource | undefined {
  if (config.keys.master_key !== undefined) return suppliedKeys(config.keys.master_key);
  return fs.existsSync(config.keys.key_file) ? keyFile(config.keys.key_file) : undefined;
}

/** The running server's last measurement, when it is recent (the server rewrites it every second). */
function readStatus(config: Config): ReplicationStatus | undefined {
  try {
    const status = JSON.parse(fs.readFileSync(statusFile(config), 'utf8')) as ReplicationStatus;
    return Date.now() - Date.parse(status.updated_at) < 10_000 ? status : undefined;
  } catch {
    return undefined;
  }
}

export const replicationStatusCommand: Command = {
  summary: 'the replication lag (recovery point) measured by the running server, and the replica\'s generations',
  help:
    'Usage: modelshare replication status [--config FILE]\n\n' +
    'Prints the lag the running server measures (every commit older than it is in the replica), whether Litestream\n' +
    'runs, and the generations the replica holds (read from the replica itself, so it works without a server too).\n' +
    'Exit code 0 when the lag is within replication.max_lag, 1 when it is over or no server is replicating.\n',
  async run(args) {
    const { values } = parse(args, {});
    const { config } = setup(values);
    if (!config.replication.enabled) {
      process.stdout.write('replication is off (replication.enabled is false)\n');
      return 1;
    }
    process.stdout.write(`target: ${describeTarget(config)}\n`);
    const status = readStatus(config);
    if (status) {
      process.stdout.write(`state: ${status.state}${status.running ? '' : ' (Litestream is not running: restarting)'}\n`);
      process.stdout.write(`lag: ${status.lag_seconds.toFixed(3)} s (limit ${status.max_lag_seconds} s)\n`);
      process.stdout.write(`recovery point: ${status.recovery_point ?? 'not known yet'}\n`);
      process.stdout.write(`replicated position: ${status.position ?? 'none yet'}\n`);
      process.stdout.write(`Litestream restarts: ${status.restarts}; measured at ${status.updated_at} by server pid ${status.pid}\n`);
    } else {
      process.stdout.write('state: no running server is replicating this data directory (no recent measurement)\n');
    }
    const litestream = oneOffConfig(config);
    try {
      process.stdout.write(`replica generations:\n${await runLitestream(config, ['generations', '-config', litestream.file, config.database.path])}`);
    } catch (error) {
      process.stdout.write(`replica generations: cannot be read: ${(error as Error).message}\n`);
      return 1;
    } finally {
      litestream.done();
    }
    return status?.state === 'ok' ? 0 : 1;
  },
};

/** `restore --from-replica`: called by `restore` when that flag is given. */
export async function restoreFromReplicaCommand(args: string[]): Promise<number> {
  const { values } = parse(args, { 'from-replica': { type: 'boolean' }, at: { type: 'string' }, 'data-dir': { type: 'string' } });
  const { config } = setup(values);
  const target = values['data-dir'];
  if (typeof target !== 'string') {
    process.stderr.write('modelshare: usage: modelshare restore --from-replica [--at TIME] --data-dir DIR\n');
    return 2;
  }
  let at: Date | undefined;
  if (values.at !== undefined) {
    at = new Date(values.at);
    if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(values.at) || Number.isNaN(at.getTime())) {
      process.stderr.write(`modelshare: --at: expected a time such as 2026-03-01T14:30:00Z, got ${JSON.stringify(values.at)}\n`);
      return 2;
    }
  }
  const keys = existingMasterKeys(config);
  const report = await restoreFromReplica(config, target, { at, masterKeys: keys, blobs: (dir) => openBlobBackend(config, undefined, config.storage.backend, dir) });
  process.stdout.write(`restored the database from ${describeTarget(config)} (${at ? `as it was at ${at.toISOString()}` : 'latest'}) into ${report.database} in ${report.seconds.toFixed(1)} s; integrity_check ok\n`);
  if (report.keysChecked) process.stdout.write(`every data key opens with the master key(s) of ${keys!.description}\n`);
  else process.stdout.write(`NOT CHECKED: no master key found (${config.keys.key_file}): point keys.key_file at the key file kept apart before starting the server.\n`);
  if (report.missing.length > 0) {
    process.stdout.write(`MISSING: ${report.missing.length} of ${report.blobs} blobs the database references are not in the blob storage:\n`);
    for (const id of report.missing) process.stdout.write(`  ${id}\n`);
    process.stdout.write('the server can start, but those packets and baselines answer blob_damaged; check that the blob storage is the primary\'s\n');
    return 1;
  }
  process.stdout.write(`all ${report.blobs} blobs the database references are in the blob storage\n`);
  process.stdout.write(`next: start the server with data_dir ${report.target} and the same config and master key\n`);
  return 0;
}
