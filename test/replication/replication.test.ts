/**
 * Replication with a real Litestream child to a path: the configuration it is given, the lag
 * measured against what Litestream really wrote, a child that dies and is restarted, shutdown, and a
 * target that stops taking writes turning readiness and the status page degraded.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { ConfigError, dumpConfig, loadConfig } from '../../src/config/load.ts';
import { assertServable } from '../../src/config/validate.ts';
import { configPath, litestreamEnv, litestreamYaml } from '../../src/replication/litestream-config.ts';
import { modelWorld } from '../helpers/models.ts';
import { writeOut } from '../helpers/people.ts';
import { startServer, type TestServer } from '../helpers/server.ts';
import { tmpDir } from '../helpers/tmp.ts';

const fast = { MODELSHARE_REPLICATION_ENABLED: 'true', MODELSHARE_REPLICATION_SYNC_INTERVAL: '200ms', MODELSHARE_REPLICATION_HEARTBEAT: '1s', MODELSHARE_REPLICATION_MAX_LAG: '3s' };

async function until<T>(what: string, probe: () => T | undefined | false, limitMs = 30_000): Promise<T> {
  const end = Date.now() + limitMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function replicatingServer(t: Parameters<typeof startServer>[0], env: Record<string, string> = {}): Promise<{ server: TestServer; target: string }> {
  const target = tmpDir(t, 'modelshare-replica-');
  const server = await startServer(t, { ...fast, MODELSHARE_REPLICATION_PATH: target, MODELSHARE_TLS_MODE: 'off', MODELSHARE_METRICS_ALLOW_LOOPBACK: 'true', ...env });
  // Registered after the server's own teardown, so it runs first: Litestream ends before the database closes.
  t.teardown(() => server.services.replication?.stop());
  return { server, target };
}

test('a target is required, never inside data_dir, and must exist; secrets stay out of the dump, the YAML file and its log', (t) => {
  const dataDir = tmpDir(t);
  const problems = (env: Record<string, string>) => {
    try {
      assertServable(loadConfig({ env: { MODELSHARE_DATA_DIR: dataDir, MODELSHARE_REPLICATION_ENABLED: 'true', ...env } }));
      return '';
    } catch (error) {
      return (error as ConfigError).problems.join('\n');
    }
  };
  t.regex(problems({}), /set exactly one target/);
  t.regex(problems({ MODELSHARE_REPLICATION_PATH: '/tmp', MODELSHARE_REPLICATION_S3_BUCKET: 'b' }), /set exactly one target/);
  t.regex(problems({ MODELSHARE_REPLICATION_PATH: path.join(dataDir, 'replica') }), /must lie outside data_dir/);
  t.regex(problems({ MODELSHARE_REPLICATION_PATH: path.join(dataDir, '..', 'no-such-mount') }), /does not exist .*mounted/);
  t.is(problems({ MODELSHARE_REPLICATION_PATH: tmpDir(t) }), '');

  const secretFile = path.join(dataDir, 'replica-secret');
  fs.writeFileSync(secretFile, 'very-secret-replica-key\n');
  const config = loadConfig({
    env: { MODELSHARE_DATA_DIR: dataDir, MODELSHARE_REPLICATION_ENABLED: 'true', MODELSHARE_REPLICATION_S3_BUCKET: 'dr', MODELSHARE_REPLICATION_S3_ENDPOINT: 'http://127.0.0.1:4566', MODELSHARE_REPLICATION_S3_ACCESS_KEY_ID: 'AKIDREPLICA', MODELSHARE_REPLICATION_S3_SECRET_ACCESS_KEY_FILE: secretFile },
  });
  t.is(problems({ MODELSHARE_REPLICATION_S3_BUCKET: 'dr' }), '');
  const dump = dumpConfig(config).join('\n');
  t.false(dump.includes('very-secret-replica-key'));
  t.false(dump.includes('AKIDREPLICA'));
  t.regex(dump, /replication\.s3\.secret_access_key = \(set, hidden\)/);
  const yaml = litestreamYaml(config);
  t.false(yaml.includes('very-secret-replica-key'));
  t.false(yaml.includes('AKIDREPLICA'));
  t.regex(yaml, /bucket: dr/);
  t.regex(yaml, /force-path-style: true/);
  const env = litestreamEnv(config);
  t.is(env['LITESTREAM_SECRET_ACCESS_KEY'], 'very-secret-replica-key');
  t.is(env['AWS_ACCESS_KEY_ID'], 'AKIDREPLICA');
});

test('Litestream replicates to the path, the lag is measured against what it wrote, and the YAML is owner-only', async (t) => {
  const { server, target } = await replicatingServer(t);
  const replication = server.services.replication!;
  const mode = fs.statSync(configPath(server.config)).mode & 0o777;
  t.is(mode, 0o600);
  await until('the replica to hold every commit', () => replication.status().position !== null && replication.status().lag_seconds === 0);
  t.true(fs.existsSync(path.join(target, 'generations')));

  const w = await modelWorld(t, server);
  t.is((await writeOut(w.editor, w.modelId, 0, crypto.randomBytes(64 * 1024))).status, 201);
  // Right after a commit the replica cannot hold it yet: the lag is not 0 until Litestream wrote it.
  t.true(replication.status().lag_seconds >= 0);
  const before = replication.status().position;
  await until('the write-out to reach the replica', () => replication.status().lag_seconds === 0 && replication.status().position !== before);
  t.is(replication.status().state, 'ok');

  const status = (await (await server.fetch(`${server.url}/status.json`)).json()) as { checks: { name: string; state: string }[] };
  t.is(status.checks.find((c) => c.name === 'replication')?.state, 'up');
  const metrics = await (await server.fetch(`${server.url}/metrics`)).text();
  t.regex(metrics, /^modelshare_replication_running 1$/m);
  t.regex(metrics, /^modelshare_replication_lag_seconds \d/m);
  // Litestream's own lines are in our log, at their level.
  t.true(server.logs.some((l) => l['msg'] === 'litestream: initialized db' && l['component'] === 'replication'));
});

test('a Litestream that dies is started again; shutdown stops it', async (t) => {
  const { server } = await replicatingServer(t);
  const replication = server.services.replication!;
  const first = await until('Litestream to run', () => replication.childPid);
  // Litestream owns the checkpoints while it runs.
  t.is(server.stores.db.pragma('wal_autocheckpoint', { simple: true }), 0);
  process.kill(first, 'SIGKILL');
  const second = await until('Litestream to be started again', () => replication.childPid !== undefined && replication.childPid !== first && replication.childPid);
  t.not(second, first);
  await until('the restart to be counted', () => replication.status().restarts === 1);
  t.true(server.logs.some((l) => l['msg'] === 'Litestream stopped unexpectedly: replication is paused until it runs again'));
  await until('the replica to hold every commit again', () => replication.status().lag_seconds === 0);

  await replication.stop();
  t.false(alive(second));
  t.is(replication.childPid, undefined);
  // Without Litestream the server checkpoints again, so the WAL stays bounded.
  t.is(server.stores.db.pragma('wal_autocheckpoint', { simple: true }), 1000);
  t.true(server.logs.some((l) => l['msg'] === 'Litestream stopped'));
});

test('a target that stops taking writes shows as growing lag: readiness and the status page turn degraded, and recover', async (t) => {
  const { server, target } = await replicatingServer(t);
  const replication = server.services.replication!;
  await until('the replica to hold every commit', () => replication.status().position !== null && replication.status().lag_seconds === 0);
  const ready = async () => (await (await server.fetch(`${server.url}/readyz`)).json()) as { status: string; checks: Record<string, string> };
  t.is((await ready()).status, 'ready');

  // The share goes away: its directory is replaced by a file, so every write under it fails (as root too).
  const moved = `${target}.away`;
  fs.renameSync(target, moved);
  fs.writeFileSync(target, 'not a directory');
  t.teardown(() => fs.rmSync(moved, { recursive: true, force: true }));
  await until('the lag to pass max_lag', () => replication.status().state === 'lagging', 20_000);
  const degraded = await ready();
  t.is(degraded.status, 'degraded');
  t.is(degraded.checks['replication'], 'lagging');
  const status = (await (await server.fetch(`${server.url}/status.json`)).json()) as { status: string; checks: { name: string; state: string }[] };
  t.is(status.status, 'degraded');
  t.is(status.checks.find((c) => c.name === 'replication')?.state, 'degraded');
  const metrics = await (await server.fetch(`${server.url}/metrics`)).text();
  t.true(Number(/^modelshare_replication_lag_seconds (\S+)$/m.exec(metrics)![1]) > 3);

  fs.rmSync(target);
  fs.renameSync(moved, target);
  // Litestream 0.3.13 hangs after a failed write; the server ends the stuck child and starts another.
  await until('the replica to catch up', () => replication.status().lag_seconds === 0, 20_000);
  t.true(server.logs.some((l) => l['msg'] === 'Litestream makes no progress: ending it to start it again'));
  t.is((await ready()).status, 'ready');
});
