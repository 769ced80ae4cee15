/**
 * Replication to an S3-compatible bucket (the fauxqs emulator on loopback): credentials reach
 * Litestream through its environment only, the lag is measured the same way, and a restore from the
 * bucket brings back the write-out.
 */
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import Database from 'better-sqlite3';
import { startFauxqs } from 'fauxqs';
import { configPath } from '../../src/replication/litestream-config.ts';
import { modelWorld } from '../helpers/models.ts';
import { writeOut } from '../helpers/people.ts';
import { startServer } from '../helpers/server.ts';
import { projectRoot } from '../helpers/spawn.ts';
import { tmpDir } from '../helpers/tmp.ts';

/** Runs `modelshare` without blocking this process: the emulator lives in it and must keep answering. */
function runAsync(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MODELSHARE_')));
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(projectRoot, 'src/main.ts'), ...args], { cwd: projectRoot, env: { ...base, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

async function until(what: string, probe: () => boolean, limitMs = 30_000): Promise<void> {
  const end = Date.now() + limitMs;
  while (!probe()) {
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('replication to an S3 bucket: keys in the environment only, lag measured, restore from the bucket', async (t) => {
  const s3 = await startFauxqs({ port: 0, logger: false });
  t.teardown(() => s3.stop());
  s3.createBucket('second-site');
  const secrets = tmpDir(t);
  fs.writeFileSync(path.join(secrets, 'secret'), 'replica-secret-0123456789\n', { mode: 0o600 });
  const env = {
    MODELSHARE_REPLICATION_ENABLED: 'true',
    MODELSHARE_REPLICATION_SYNC_INTERVAL: '200ms',
    MODELSHARE_REPLICATION_S3_ENDPOINT: `http://127.0.0.1:${s3.port}`,
    MODELSHARE_REPLICATION_S3_BUCKET: 'second-site',
    MODELSHARE_REPLICATION_S3_PATH: 'modelshare/primary',
    MODELSHARE_REPLICATION_S3_ACCESS_KEY_ID: 'AKIDMODELSHARE',
    MODELSHARE_REPLICATION_S3_SECRET_ACCESS_KEY_FILE: path.join(secrets, 'secret'),
    MODELSHARE_TLS_MODE: 'off',
  };
  const server = await startServer(t, env);
  const replication = server.services.replication!;
  t.teardown(() => replication.stop());
  const yaml = fs.readFileSync(configPath(server.config), 'utf8');
  t.false(yaml.includes('replica-secret'));
  t.false(yaml.includes('AKIDMODELSHARE'));

  const w = await modelWorld(t, server);
  const bytes = crypto.randomBytes(20_000);
  t.is((await writeOut(w.editor, w.modelId, 0, bytes)).status, 201);
  await until('the write-out in the bucket', () => replication.status().lag_seconds === 0 && replication.status().position !== null);
  t.false(server.logs.some((l) => JSON.stringify(l).includes('replica-secret')), 'the secret is in no log line');

  const standby = path.join(tmpDir(t), 'standby');
  fs.mkdirSync(standby);
  fs.symlinkSync(path.join(server.dataDir, 'blobs'), path.join(standby, 'blobs'));
  const restored = await runAsync(['restore', '--from-replica', '--data-dir', standby], { ...env, MODELSHARE_DATA_DIR: server.dataDir, MODELSHARE_DEMO_ENABLED: 'off' });
  t.is(restored.code, 0, restored.stdout + restored.stderr);
  t.regex(restored.stdout, /from s3:\/\/second-site\/modelshare\/primary at http:\/\/127\.0\.0\.1:\d+/);
  const db = new Database(path.join(standby, 'modelshare.db'), { readonly: true });
  t.is((db.prepare('SELECT count(*) AS n FROM packets WHERE model_id = ?').get(w.modelId) as { n: number }).n, 1);
  db.close();
});
