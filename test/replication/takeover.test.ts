/**
 * Taking over after losing the primary, as the README's runbook does it: a real `modelshare serve`
 * replicating to a path, its blobs on storage the standby shares, a stream of write-outs, then the
 * primary and its Litestream killed at once (the machine is gone). The standby, with the same config
 * and the master key kept apart, restores the database from the replica, starts, and serves every
 * write-out acknowledged before the recovery point the primary last reported, digest-valid.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { openStores } from '../../src/boot.ts';
import { systemClock } from '../../src/clock.ts';
import { loadConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/log.ts';
import { createServices } from '../../src/services.ts';
import { apiCall, digestHeader, type Caller } from '../helpers/people.ts';
import { defaultOrganizations, type TestServer } from '../helpers/server.ts';
import { runCommand, spawnServer, type SpawnedServer } from '../helpers/spawn.ts';
import { tmpDir } from '../helpers/tmp.ts';

interface Ack {
  modelId: string;
  seq: number;
  digest: string;
  bytes: Buffer;
  ackedAt: number;
}

/** People with desktop tokens, made in the primary's database before it starts (as sign-ins would). */
function makePeople(env: Record<string, string>, names: string[]): { email: string; token: string }[] {
  const config = loadConfig({ env: { ...env, MODELSHARE_REPLICATION_ENABLED: 'false' } });
  const log = createLogger('warn', 2);
  const stores = openStores(config, log);
  try {
    const services = createServices(config, stores, systemClock, log);
    return names.map((name) => {
      const email = `${name.toLowerCase()}@firm.example`;
      const p = services.identity.people.signIn({ issuer: 'https://test-idp.example', subject: `sub-${name}`, email, emailVerified: true, name, serverAdmin: false });
      services.orgs.recordSignIn(p, [], '127.0.0.1');
      return { email, token: services.identity.tokens.startLogin(p.id, `${name}'s modeller`).tokens.access_token };
    });
  } finally {
    stores.close();
  }
}

/** Running (a zombie waiting for its reaper counts as ended). */
function alive(pid: number): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
  } catch {
    return false;
  }
}

function caller(server: SpawnedServer, token: string): Caller['call'] {
  return apiCall({ fetch: server.fetch, url: server.url } as TestServer, token);
}

test('the primary is killed during write-outs; the standby restored from the replica serves every write-out acknowledged before the recovery point', async (t) => {
  const site = tmpDir(t, 'modelshare-takeover-');
  const sharedBlobs = path.join(site, 'shared-blob-storage');
  const replica = path.join(site, 'second-site-mount');
  const primaryData = path.join(site, 'primary');
  const standbyData = path.join(site, 'standby');
  for (const dir of [sharedBlobs, replica, primaryData, standbyData]) fs.mkdirSync(dir, { mode: 0o700 });
  // Both machines mount the same blob storage at data_dir/blobs.
  fs.symlinkSync(sharedBlobs, path.join(primaryData, 'blobs'));
  fs.symlinkSync(sharedBlobs, path.join(standbyData, 'blobs'));
  const primaryKey = path.join(site, 'primary-etc', 'master.key');
  fs.mkdirSync(path.dirname(primaryKey));
  const config = {
    MODELSHARE_ORGANIZATIONS: defaultOrganizations,
    MODELSHARE_DEMO_ENABLED: 'off',
    MODELSHARE_STORAGE_MIN_FREE_BYTES: '0',
    MODELSHARE_REPLICATION_ENABLED: 'true',
    MODELSHARE_REPLICATION_PATH: replica,
    MODELSHARE_REPLICATION_SYNC_INTERVAL: '1s',
  };
  const primaryEnv = { ...config, MODELSHARE_DATA_DIR: primaryData, MODELSHARE_KEYS_KEY_FILE: primaryKey };
  const people = makePeople(primaryEnv, ['Olive', 'Owen', 'Oscar', 'Opal']);

  const primary = await spawnServer(t, primaryEnv);
  const models: { id: string; call: Caller['call'] }[] = [];
  for (const [i, p] of people.entries()) {
    const call = caller(primary, p.token);
    const created = await call('POST', '/api/v1/models', { json: { name: `Bridge ${i}`, description: 'span' } });
    t.is(created.status, 201, JSON.stringify(created.body));
    models.push({ id: String(created.body['id']), call });
  }

  // The recovery point the primary reports, read as a monitoring system would, until the kill.
  let recoveryPoint = 0;
  let watching = true;
  const watcher = (async () => {
    while (watching) {
      try {
        const status = (await (await primary.fetch(`${primary.url}/status.json`)).json()) as { checks: { name: string; details?: { recovery_point: string | null } }[] };
        const point = status.checks.find((c) => c.name === 'replication')?.details?.recovery_point;
        if (point) recoveryPoint = Math.max(recoveryPoint, Date.parse(point));
      } catch {
        // The primary is gone.
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();

  // Four writers, one per model, each writing out packet after packet until the machine dies.
  const acks: Ack[] = [];
  let failed = 0;
  let writing = true;
  const writers = models.map(async (model) => {
    let base = 0;
    while (writing) {
      const bytes = crypto.randomBytes(16 * 1024 + crypto.randomInt(48 * 1024));
      try {
        const res = await model.call('POST', `/api/v1/models/${model.id}/packets?base=${base}`, { raw: bytes, headers: { 'content-digest': digestHeader(bytes) } });
        if (res.status !== 201) throw new Error(`write-out answered ${res.status}`);
        const seq = Number(res.body['seq']);
        acks.push({ modelId: model.id, seq, digest: digestHeader(bytes), bytes, ackedAt: Date.now() });
        base = seq;
      } catch {
        failed += 1;
        return;
      }
    }
  });
  // Long enough for several Litestream syncs, counted in write-outs rather than seconds: at least 60
  // acknowledged, and a recovery point reported after at least 20 of them. A fast machine reaches 60
  // before the first sync; a slow one reports its first point late. A minute without is a failure.
  const coveredSoFar = () => acks.filter((a) => a.ackedAt < recoveryPoint).length;
  const giveUp = Date.now() + 60_000;
  while ((acks.length < 60 || coveredSoFar() < 20) && failed === 0 && Date.now() < giveUp) await new Promise((r) => setTimeout(r, 50));
  t.is(failed, 0);
  t.true(coveredSoFar() >= 20, `a recovery point after 20 write-outs within a minute (${acks.length} acknowledged, point ${recoveryPoint})`);

  // The machine is lost: the server and its Litestream die at the same instant.
  const litestreamPid = Number(fs.readFileSync(path.join(primaryData, 'replication', 'litestream.pid'), 'utf8'));
  const pointAtKill = recoveryPoint;
  const killedAt = Date.now();
  process.kill(litestreamPid, 'SIGKILL');
  primary.child.kill('SIGKILL');
  writing = false;
  watching = false;
  await Promise.all([...writers, watcher, primary.exited]);
  t.true(pointAtKill > 0, 'the primary reported a recovery point');
  const measuredLag = killedAt - pointAtKill;

  // The standby: the same config, its own copy of the key file kept apart, the shared blob storage.
  const standbyKey = path.join(site, 'standby-etc', 'master.key');
  fs.mkdirSync(path.dirname(standbyKey));
  fs.copyFileSync(primaryKey, standbyKey);
  fs.chmodSync(standbyKey, 0o600);
  const standbyEnv = { ...config, MODELSHARE_DATA_DIR: standbyData, MODELSHARE_KEYS_KEY_FILE: standbyKey };
  const restoreStarted = Date.now();
  const restored = runCommand(['restore', '--from-replica', '--data-dir', standbyData], standbyEnv);
  const restoreSeconds = (Date.now() - restoreStarted) / 1000;
  t.is(restored.code, 0, restored.stdout + restored.stderr);
  t.regex(restored.stdout, /every data key opens with the master key/);
  t.regex(restored.stdout, /all \d+ blobs the database references are in the blob storage/);
  const standby = await spawnServer(t, standbyEnv);
  const servingAfter = (Date.now() - killedAt) / 1000;

  const covered = acks.filter((a) => a.ackedAt < pointAtKill);
  t.true(covered.length > 0);
  for (const ack of covered) {
    const res = await standby.fetch(`${standby.url}/api/v1/models/${ack.modelId}/packets/${ack.seq}`, { headers: { authorization: `Bearer ${people[models.findIndex((m) => m.id === ack.modelId)]!.token}` } });
    t.is(res.status, 200, `packet ${ack.seq} of ${ack.modelId}, acknowledged ${pointAtKill - ack.ackedAt} ms before the recovery point`);
    t.is(res.headers.get('content-digest'), ack.digest);
    t.true(Buffer.from(await res.arrayBuffer()).equals(ack.bytes));
  }
  let later = 0;
  for (const ack of acks.filter((a) => a.ackedAt >= pointAtKill)) {
    const res = await standby.fetch(`${standby.url}/api/v1/models/${ack.modelId}/packets/${ack.seq}`, { headers: { authorization: `Bearer ${people[models.findIndex((m) => m.id === ack.modelId)]!.token}` } });
    if (res.status === 200) later += 1;
    await res.arrayBuffer();
  }
  t.log(`${acks.length} write-outs acknowledged (${failed} cut off by the kill); measured lag at the kill ${measuredLag} ms; ` +
    `${covered.length} acknowledged before the recovery point, all present and digest-valid; ${later} of ${acks.length - covered.length} later ones present too; ` +
    `restore ${restoreSeconds.toFixed(1)} s, serving ${servingAfter.toFixed(1)} s after the kill`);
  const standbyLitestream = Number(fs.readFileSync(path.join(standbyData, 'replication', 'litestream.pid'), 'utf8'));
  standby.child.kill('SIGTERM');
  await standby.exited;
  t.false(alive(standbyLitestream), 'the standby stopped its Litestream on SIGTERM');
  t.false(fs.existsSync(path.join(standbyData, 'replication', 'litestream.pid')));
});

test('a Litestream left running by a server killed with SIGKILL is ended by the next start, never run twice', async (t) => {
  const site = tmpDir(t, 'modelshare-leftover-');
  const replica = path.join(site, 'replica');
  fs.mkdirSync(replica);
  const env = { MODELSHARE_DATA_DIR: path.join(site, 'data'), MODELSHARE_DEMO_ENABLED: 'off', MODELSHARE_TLS_MODE: 'off', MODELSHARE_REPLICATION_ENABLED: 'true', MODELSHARE_REPLICATION_PATH: replica };
  const first = await spawnServer(t, env);
  const pidFile = path.join(site, 'data', 'replication', 'litestream.pid');
  const orphan = Number(fs.readFileSync(pidFile, 'utf8'));
  t.teardown(() => {
    if (alive(orphan)) process.kill(orphan, 'SIGKILL');
  });
  // Held still, so it cannot die by itself at its next log line (its stdout, our pipe, is gone with
  // the server): that is not guaranteed, as a Litestream with nothing to log logs nothing.
  process.kill(orphan, 'SIGSTOP');
  first.child.kill('SIGKILL');
  await first.exited;
  t.true(alive(orphan), 'the killed server could not stop its child');
  const second = await spawnServer(t, env);
  t.regex(second.output(), /ended a Litestream left running by an earlier server process/);
  await new Promise((r) => setTimeout(r, 200));
  t.false(alive(orphan));
  const current = Number(fs.readFileSync(pidFile, 'utf8'));
  t.not(current, orphan);
  t.true(alive(current));
  second.child.kill('SIGTERM');
  await second.exited;
  t.false(alive(current));
});
