/**
 * Retention: a deleted model is purged once its restore window has passed, with its blobs and its
 * data key (crypto-erasure); every purge is audited with its counts; what is still kept stays.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { modelWorld } from '../helpers/models.ts';
import { digestHeader, writeOut } from '../helpers/people.ts';
import { startServer } from '../helpers/server.ts';
import { filesUnder } from '../helpers/tmp.ts';

const day = 86_400_000;

test('a deleted model is purged after retention.deleted_models: no row, no blob, no data key; the purge is audited', async (t) => {
  const server = await startServer(t, { MODELSHARE_RETENTION_DELETED_MODELS: '30d', MODELSHARE_STORAGE_INLINE_MAX_BYTES: '256KiB' });
  const doomed = await modelWorld(t, server);
  const kept = await modelWorld(t, server);
  // The baseline and the other model's packets are blob files; the doomed packets are inline (storage.inline_max_bytes).
  const baseline = crypto.randomBytes(300_000);
  t.is((await doomed.owner.call('POST', `/api/v1/models/${doomed.modelId}/baselines?seq=0`, { raw: baseline, headers: { 'content-digest': digestHeader(baseline) } })).status, 201);
  for (let base = 0; base < 3; base++) {
    t.is((await writeOut(doomed.editor, doomed.modelId, base, crypto.randomBytes(70_000))).status, 201);
    t.is((await writeOut(kept.editor, kept.modelId, base, crypto.randomBytes(300_000))).status, 201);
  }
  const db = server.stores.db;
  const keyOf = (id: string) => (db.prepare('SELECT data_key_id FROM models WHERE id = ?').get(id) as { data_key_id: string }).data_key_id;
  const doomedKey = keyOf(doomed.modelId);
  const doomedBlobs = (db.prepare('SELECT blob_id FROM packets WHERE model_id = ? UNION SELECT blob_id FROM baselines WHERE model_id = ?').all(doomed.modelId, doomed.modelId) as { blob_id: string }[]).map((r) => r.blob_id);
  t.is(doomedBlobs.length, 4);
  const blobFile = (id: string) => path.join(server.dataDir, 'blobs', id.slice(0, 2), id);
  const inlineRow = (id: string) => db.prepare('SELECT 1 FROM blob_inline WHERE blob_id = ?').get(id);
  t.is(doomedBlobs.filter((id) => fs.existsSync(blobFile(id))).length, 1);
  t.is(doomedBlobs.filter((id) => inlineRow(id)).length, 3);
  t.is((await doomed.owner.call('DELETE', `/api/v1/models/${doomed.modelId}`)).status, 204);

  // Within the restore window nothing goes.
  const clock = server.clock as typeof server.clock & { advance(ms: number): void };
  clock.advance(29 * day);
  t.like(await server.runJob('retention'), { ok: true });
  t.truthy(db.prepare('SELECT 1 FROM models WHERE id = ?').get(doomed.modelId));

  clock.advance(2 * day);
  const run = await server.runJob('retention');
  t.true(run.ok, run.outcome);
  t.regex(run.outcome, /1 deleted models, 4 deleted model blobs/);
  t.like((server.jobs.runner.lastRuns('retention', 1))[0], { outcome: 'ok', figures: { vacuum: 'incremental' } }, 'a new database file gives free pages back incrementally');
  t.is(Number(db.pragma('freelist_count', { simple: true })), 0);
  t.is(db.prepare('SELECT 1 FROM models WHERE id = ?').get(doomed.modelId), undefined);
  for (const table of ['packets', 'baselines', 'model_members', 'model_events']) {
    t.deepEqual(db.prepare(`SELECT count(*) AS n FROM ${table} WHERE model_id = ?`).get(doomed.modelId), { n: 0 }, table);
  }
  t.is(db.prepare('SELECT 1 FROM data_keys WHERE id = ?').get(doomedKey), undefined, 'the data key is destroyed');
  for (const id of doomedBlobs) {
    t.is(db.prepare('SELECT 1 FROM blobs WHERE id = ?').get(id), undefined, 'no blob row');
    t.false(fs.existsSync(blobFile(id)), 'no blob file');
    t.is(inlineRow(id), undefined, 'no inline bytes');
  }
  // The other model is untouched.
  t.is((db.prepare('SELECT count(*) AS n FROM packets WHERE model_id = ? AND blob_id IS NOT NULL').get(kept.modelId) as { n: number }).n, 3);
  t.truthy(db.prepare('SELECT 1 FROM data_keys WHERE id = ?').get(keyOf(kept.modelId)));
  t.is(filesUnder(path.join(server.dataDir, 'blobs')).filter((f) => !f.includes('staging')).length, 3);

  const audit = server.services.audit.recent(new Date(0), 500);
  t.like(audit.find((e) => e.action === 'model.purge'), { outcome: 'allowed', target: { type: 'model', id: doomed.modelId }, details: { blobs: 4, data_key_destroyed: true } });
  t.like(audit.find((e) => e.action === 'retention.purge'), { details: { deleted_models: 1, deleted_model_blobs: 4 } });
});

test('history before the N-th newest baseline is pruned when configured; the events window and expired tokens go too', async (t) => {
  const server = await startServer(t, { MODELSHARE_RETENTION_HISTORY_BASELINES: '1', MODELSHARE_RETENTION_MODEL_EVENTS: '7d', MODELSHARE_RETENTION_REFRESH_TOKENS: '1d' });
  const w = await modelWorld(t, server);
  for (let base = 0; base < 3; base++) t.is((await writeOut(w.editor, w.modelId, base, crypto.randomBytes(1000))).status, 201);
  const snapshot = crypto.randomBytes(5000);
  t.is((await w.editor.call('POST', `/api/v1/models/${w.modelId}/baselines?seq=3`, { raw: snapshot, headers: { 'content-digest': digestHeader(snapshot) } })).status, 201);
  t.is((await writeOut(w.editor, w.modelId, 3, crypto.randomBytes(1000))).status, 201);
  const clock = server.clock as typeof server.clock & { advance(ms: number): void };
  clock.advance(8 * day);
  const run = await server.runJob('retention');
  t.true(run.ok, run.outcome);
  t.like((await server.jobs.runner.lastRuns('retention', 1))[0], { outcome: 'ok', figures: { pruned_packets: 3 } });
  const db = server.stores.db;
  t.deepEqual(db.prepare('SELECT seq, blob_id IS NULL AS gone FROM packets WHERE model_id = ? ORDER BY seq').all(w.modelId), [
    { seq: 1, gone: 1 }, { seq: 2, gone: 1 }, { seq: 3, gone: 1 }, { seq: 4, gone: 0 },
  ]);
  t.deepEqual(db.prepare('SELECT count(*) AS n FROM model_events').get(), { n: 0 }, 'events older than 7 days are gone');
  t.deepEqual(db.prepare("SELECT count(*) AS n FROM tokens WHERE kind = 'access'").get(), { n: 0 }, 'access tokens expired over a day ago are gone');
  t.deepEqual(db.prepare("SELECT count(*) AS n FROM tokens WHERE kind = 'refresh'").get(), { n: 5 }, 'refresh tokens still valid (30 days) stay');
});

test('the blob sweep removes a file without a row once it is older than retention.orphan_blobs, and audits it', async (t) => {
  const server = await startServer(t, { MODELSHARE_RETENTION_ORPHAN_BLOBS: '2h' });
  const orphan = (id: string, ageMs: number) => {
    const file = path.join(server.dataDir, 'blobs', id.slice(0, 2), id);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, 'left by a crash between write and commit');
    const at = new Date(Date.now() - ageMs);
    fs.utimesSync(file, at, at);
    return file;
  };
  const old = orphan('a'.repeat(32), 3 * 3_600_000);
  const young = orphan('b'.repeat(32), 60_000);
  const run = await server.runJob('blob-sweep');
  t.true(run.ok, run.outcome);
  t.regex(run.outcome, /^removed 1 orphan blob file/);
  t.false(fs.existsSync(old));
  t.true(fs.existsSync(young), 'a file younger than the grace period may be about to be committed');
  t.like(server.services.audit.recent(new Date(0)).find((e) => e.action === 'retention.blob_sweep'), { details: { orphans: 1 } });
});
