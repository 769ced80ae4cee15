/**
 * `modelshare blobs migrate`: to S3 and back while write-outs and downloads go on (nothing
 * acknowledged is lost, every download during the move is whole), resumable after being cut short,
 * and a server configured for the backend the blobs left refuses to start.
 */
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import path from 'node:path';
import { Readable } from 'node:stream';
import test from 'ava';
import { migrateBlobs } from '../../src/blobs/blob-migration.ts';
import { openStores } from '../../src/boot.ts';
import { loadConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/log.ts';
import { stagedBlobs, storedBlobs } from '../helpers/blob-store.ts';
import { digestHeader, person, writeOut, type Caller, sha256 } from '../helpers/people.ts';
import { s3Env, sharedS3 } from '../helpers/s3.ts';
import { startServer } from '../helpers/server.ts';
import { projectRoot } from '../helpers/spawn.ts';
import { openTestStores } from '../helpers/stores.ts';


/** `modelshare blobs migrate` in its own process, without blocking this one (which serves, and runs the S3 emulator). */
function migrate(env: Record<string, string>, to: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MODELSHARE_')));
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', path.join(projectRoot, 'src/main.ts'), 'blobs', 'migrate', '--to', to], { cwd: projectRoot, env: { ...base, ...env } }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

test('to S3 and back under concurrent write-outs and downloads: every acknowledged packet is there and digest-valid', async (t) => {
  const env: Record<string, string> = { ...(await s3Env()), MODELSHARE_STORAGE_BACKEND: 'fs', MODELSHARE_STORAGE_S3_PART_SIZE: '5MiB' };
  const server = await startServer(t, env);
  const bucket = env['MODELSHARE_STORAGE_S3_BUCKET']!;
  const owner = person(server, 'Olive');
  const models: string[] = [];
  for (let i = 0; i < 3; i++) models.push(String((await owner.call('POST', '/api/v1/models', { json: { name: `Model ${i}` } })).body['id']));
  const acknowledged: { model: string; seq: number; digest: string }[] = [];
  const problems: string[] = [];
  // Some history first, one packet larger than a multipart part.
  for (const [i, model] of models.entries()) {
    const body = crypto.randomBytes(i === 0 ? 6 * 1024 * 1024 : 50_000);
    const res = await writeOut(owner, model, 0, body);
    t.is(res.status, 201);
    acknowledged.push({ model, seq: 1, digest: digestHeader(body) });
  }

  let stop = false;
  const writer = async (who: Caller, model: string) => {
    let base = 1;
    while (!stop) {
      const body = crypto.randomBytes(1000 + crypto.randomInt(60_000));
      const res = await writeOut(who, model, base, body);
      await new Promise((r) => setTimeout(r, 100)); // a steady stream, not a flood of the 2 shared cores
      if (res.status === 201) {
        base++;
        acknowledged.push({ model, seq: base, digest: digestHeader(body) });
      } else if (res.status !== 503) {
        problems.push(`write-out answered ${res.status} ${JSON.stringify(res.body)}`);
      }
    }
  };
  const reader = async () => {
    while (!stop) {
      const pick = acknowledged[crypto.randomInt(acknowledged.length)]!;
      const res = await owner.call('GET', `/api/v1/models/${pick.model}/packets/${pick.seq}`).catch((error: Error) => ({ status: `broke off (${error.message})`, bytes: Buffer.alloc(0) }));
      if (res.status !== 200 || digestHeader(res.bytes) !== pick.digest) problems.push(`download of ${pick.model}/${pick.seq} answered ${res.status}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const load = Promise.all([...models.map((m) => writer(owner, m)), reader()]);

  const commandEnv = { ...env, MODELSHARE_DATA_DIR: server.dataDir };
  const toS3 = await migrate(commandEnv, 's3');
  t.is(toS3.code, 0, toS3.stderr);
  t.regex(toS3.stdout, /moved the blobs from fs to s3: [1-9]\d* copied and verified/);
  t.like(server.stores.blobBackend.placement(), { current: 's3', target: undefined });
  const written = acknowledged.length;
  while (acknowledged.length < written + 6) await new Promise((r) => setTimeout(r, 20)); // writes go on, on S3
  const onS3 = (await sharedS3()).objects(bucket).length;
  t.true(onS3 >= acknowledged.length - 3, `the blobs are in the bucket (${onS3})`);

  // As the operator does after the first move: the configuration now names s3.
  const toFs = await migrate({ ...commandEnv, MODELSHARE_STORAGE_BACKEND: 's3' }, 'fs');
  t.is(toFs.code, 0, toFs.stderr);
  const again = acknowledged.length;
  while (acknowledged.length < again + 6) await new Promise((r) => setTimeout(r, 20));
  stop = true;
  await load;

  t.deepEqual(problems, []);
  t.like(server.stores.blobBackend.placement(), { current: 'fs', target: undefined });
  for (const packet of acknowledged) {
    const res = await owner.call('GET', `/api/v1/models/${packet.model}/packets/${packet.seq}`);
    t.is(res.status, 200);
    t.is(digestHeader(res.bytes), packet.digest, `packet ${packet.seq} of ${packet.model}`);
  }
  const catalogued = (server.stores.db.prepare('SELECT id FROM blobs').all() as { id: string }[]).map((r) => r.id).sort();
  t.deepEqual((await storedBlobs(server)).sort(), catalogued, 'every blob on disk, and nothing else');
  t.deepEqual((await sharedS3()).objects(bucket), [], 'the bucket was emptied by the move back');
  t.is(await stagedBlobs(server), 0);
});

test('a migration cut short resumes where it stopped, reads fall back meanwhile, and the switch waits for every blob', async (t) => {
  const env: Record<string, string> = { ...(await s3Env()), MODELSHARE_STORAGE_BACKEND: 'fs' };
  const stores = openTestStores(t, env);
  const dataKeyId = stores.keys.create('model');
  const data = Array.from({ length: 6 }, (_, i) => crypto.randomBytes(1000 + i * 70_000));
  const ids: string[] = [];
  for (const bytes of data) {
    const staged = await stores.blobs.put(Readable.from([bytes]), { dataKeyId, maxBytes: 1 << 30, expected: { 'sha-256': sha256(bytes) } });
    stores.db.transaction(() => stores.blobs.commit(staged))();
    ids.push(staged.id);
  }
  const readBack = async (i: number) => {
    const chunks: Buffer[] = [];
    for await (const c of stores.blobs.read(stores.blobs.info(ids[i]!)!)) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  };
  const cut = await t.throwsAsync(migrateBlobs(stores.db, stores.blobBackend, { to: 's3', onVerified: (_id, done) => { if (done === 3) throw new Error('killed'); } }));
  t.is(cut.message, 'killed');
  t.like(stores.blobBackend.placement(), { current: 'fs', target: 's3' });
  t.is((stores.db.prepare('SELECT count(*) AS n FROM blob_migration_done').get() as { n: number }).n, 3, 'the progress record');
  for (let i = 0; i < data.length; i++) t.true((await readBack(i)).equals(data[i]!), `blob ${i} reads during the migration`);
  // A blob written meanwhile goes to the target.
  const late = crypto.randomBytes(5000);
  const staged = await stores.blobs.put(Readable.from([late]), { dataKeyId, maxBytes: 1 << 30, expected: { 'sha-256': sha256(late) } });
  t.is(staged.location, 's3');
  stores.db.transaction(() => stores.blobs.commit(staged))();
  t.is((stores.db.prepare('SELECT count(*) AS n FROM blob_migration_done').get() as { n: number }).n, 4, 'recorded as there by its commit');

  const report = await migrateBlobs(stores.db, stores.blobBackend, { to: 's3' });
  t.like(report, { from: 'fs', to: 's3', resumed: 4, copied: 3, alreadyThere: 0, removedFromSource: 6 });
  t.like(stores.blobBackend.placement(), { current: 's3', target: undefined });
  for (let i = 0; i < data.length; i++) t.true((await readBack(i)).equals(data[i]!), `blob ${i} reads from S3`);
  t.is((await sharedS3()).objects(env['MODELSHARE_STORAGE_S3_BUCKET']!).length, 7);

  // A blob written to fs before the switch and committed after it is refused (and retried by the client).
  const stale = { ...staged, id: crypto.randomBytes(16).toString('hex'), location: 'fs' };
  t.throws(() => stores.db.transaction(() => stores.blobs.commit(stale))(), { message: /switched/ });
  await t.throwsAsync(migrateBlobs(stores.db, stores.blobBackend, { to: 's3' }), { message: /already/ });

  // The configuration must follow: a start with storage.backend fs is refused, naming the fix.
  const config = loadConfig({ env: { ...env, MODELSHARE_DATA_DIR: stores.dataDir, MODELSHARE_STORAGE_MIN_FREE_BYTES: '0' } });
  t.throws(() => openStores(config, createLogger('silent')), { message: /set storage\.backend to s3/ });
});
