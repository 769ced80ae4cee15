/**
 * What the server tells Litestream: the binary (from the `@flydotio/litestream` package, never from
 * PATH, so the version we tested is the version that runs), its YAML configuration, and its
 * environment. Credentials go to the child in its environment only; the YAML file (0600, in the data
 * directory) names the target, never a key.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { stringify } from 'yaml';
import type { Config } from '../config/options.ts';

/** The Litestream binary shipped by the npm package `@flydotio/litestream-<platform>-<arch>` (v0.3.13; the `@flydotio/litestream` wrapper names platform packages this registry lacks, which `npm ci` refuses). */
export function litestreamBinary(): string {
  const pkg = `@flydotio/litestream-${process.platform}-${process.arch}`;
  const require = createRequire(import.meta.url);
  let dir: string;
  try {
    dir = path.dirname(require.resolve(`${pkg}/package.json`));
  } catch {
    throw new Error(`the Litestream binary for ${process.platform}-${process.arch} is not installed (npm package ${pkg}, an optional dependency: Litestream ships a binary for linux-x64 in this registry)`);
  }
  const binary = path.join(dir, 'litestream');
  if (!fs.existsSync(binary)) throw new Error(`the Litestream binary is missing from ${dir}`);
  return binary;
}

/** Where replication keeps its files in the data directory: the generated config, pid and status. */
export function replicationDir(config: Config): string {
  return path.join(config.data_dir, 'replication');
}

export function configPath(config: Config): string {
  return path.join(replicationDir(config), 'litestream.yml');
}

const seconds = (ms: number) => `${ms}ms`;

/** The replica section of Litestream's config for the configured target. */
function replica(config: Config): Record<string, unknown> {
  const r = config.replication;
  const common = {
    'sync-interval': seconds(r.sync_interval),
    retention: seconds(r.retention),
    'retention-check-interval': seconds(Math.min(r.retention, 3_600_000)),
    // A fresh snapshot at least daily bounds how much WAL a restore has to replay.
    'snapshot-interval': seconds(Math.min(r.retention, 86_400_000)),
  };
  if (r.path !== '') return { type: 'file', path: path.resolve(r.path), ...common };
  return {
    type: 's3',
    bucket: r.s3.bucket,
    path: r.s3.path,
    region: r.s3.region,
    ...(r.s3.endpoint !== '' ? { endpoint: r.s3.endpoint } : {}),
    'force-path-style': r.s3.path_style,
    ...common,
  };
}

/**
 * Litestream's YAML for this server's database. `databasePath` is the key Litestream knows the
 * replica by; a restore uses the same file so it finds the same replica.
 *
 * Checkpoints: while Litestream runs, the server turns its own autocheckpoint off (see
 * replication-service.ts) and Litestream checkpoints: PASSIVE after 1000 WAL pages (SQLite's own
 * threshold), and at least every minute, never blocking writers; RESTART only past 10,000 pages.
 */
export function litestreamYaml(config: Config, databasePath = config.database.path): string {
  const document = {
    logging: { level: 'info', type: 'json', stderr: false },
    dbs: [
      {
        path: path.resolve(databasePath),
        'monitor-interval': seconds(Math.min(config.replication.sync_interval, 1000)),
        'checkpoint-interval': '1m',
        'min-checkpoint-page-count': 1000,
        'max-checkpoint-page-count': 10000,
        replicas: [replica(config)],
      },
    ],
  };
  return `# Written by modelshare at every start from the replication section of its config; edits are lost.\n${stringify(document)}`;
}

/** Writes the YAML owner-only, atomically (temp file, fsync, rename). */
export function writeLitestreamConfig(config: Config, file = configPath(config), databasePath?: string): string {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const temp = `${file}.${process.pid}.tmp`;
  const fd = fs.openSync(temp, 'w', 0o600);
  try {
    fs.writeFileSync(fd, litestreamYaml(config, databasePath));
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(temp, file);
  return file;
}

/**
 * The environment of a Litestream child: the S3 credentials (Litestream reads LITESTREAM_* and the
 * AWS SDK reads AWS_*), and the CA of an internal endpoint through SSL_CERT_FILE (Go's TLS reads it).
 * Nothing of our own environment that could carry a secret is passed on: only PATH, HOME and TZ.
 */
export function litestreamEnv(config: Config): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const name of ['PATH', 'HOME', 'TZ']) if (process.env[name] !== undefined) env[name] = process.env[name];
  const s3 = config.replication.s3;
  const id = s3.access_key_id ?? process.env['AWS_ACCESS_KEY_ID'];
  const key = s3.secret_access_key ?? process.env['AWS_SECRET_ACCESS_KEY'];
  if (id !== undefined) env['LITESTREAM_ACCESS_KEY_ID'] = env['AWS_ACCESS_KEY_ID'] = id;
  if (key !== undefined) env['LITESTREAM_SECRET_ACCESS_KEY'] = env['AWS_SECRET_ACCESS_KEY'] = key;
  if (s3.ca_file !== '') env['SSL_CERT_FILE'] = path.resolve(s3.ca_file);
  return env;
}
