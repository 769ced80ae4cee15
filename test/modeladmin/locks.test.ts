/**
 * Model locks (issue 22): a locked model refuses every write-out and new baseline but the lock
 * owner's with 423 `model_locked`, the reason and who locked it; reads keep working; locking and
 * unlocking are events on the model's stream and audited; the reason is sealed at rest.
 */
import crypto from 'node:crypto';
import test from 'ava';
import { eventually } from '../helpers/eventually.ts';
import { modelWorld } from '../helpers/models.ts';
import { orgWorld, people } from '../helpers/orgs.ts';
import { digestHeader, writeOut } from '../helpers/people.ts';
import { startServer } from '../helpers/server.ts';
import { events, openSse } from '../helpers/sse.ts';

const reason = 'Structural review of the main span — do not change';

test('refusals: viewers, editors and outsiders may not lock; a lock owner must be a writer; bad bodies change nothing', async (t) => {
  const server = await startServer(t);
  const w = await modelWorld(t, server);
  const lock = `/api/v1/models/${w.modelId}/lock`;
  const locks = () => (server.stores.db.prepare('SELECT count(*) AS n FROM model_locks').get() as { n: number }).n;
  t.like((await w.viewer.call('PUT', lock, { json: { reason } })), { status: 403, body: { code: 'forbidden' } });
  t.like((await w.editor.call('PUT', lock, { json: { reason } })), { status: 403, body: { code: 'forbidden' } });
  t.like((await w.outsider.call('PUT', lock, { json: { reason } })), { status: 404, body: { code: 'not_found' } });
  t.like((await w.owner.call('PUT', lock, { json: { reason: '   ' } })), { status: 400, body: { code: 'validation_failed' } });
  t.like((await w.owner.call('PUT', lock, { json: { reason, lock_owner_id: w.viewer.id } })), { status: 400, body: { code: 'validation_failed' } });
  t.like((await w.owner.call('PUT', lock, { json: { reason, lock_owner_id: w.outsider.id } })), { status: 400, body: { code: 'validation_failed' } });
  t.is(locks(), 0);
  t.like((await w.owner.call('DELETE', lock)), { status: 404, body: { code: 'not_found' } }, 'nothing to unlock');
  t.like((await w.editor.call('DELETE', lock)), { status: 403 });
});

test("a locked model refuses everyone's write-out and baseline but the lock owner's, with 423 and the reason; reads go on", async (t) => {
  const server = await startServer(t);
  const w = await modelWorld(t, server);
  const m = `/api/v1/models/${w.modelId}`;
  const first = crypto.randomBytes(3000);
  t.is((await writeOut(w.owner, w.modelId, 0, first)).status, 201);
  const stream = await openSse(server, `${m}/events`, w.viewer.token);
  t.teardown(() => stream.close());

  const locked = await w.admin.call('PUT', `${m}/lock`, { json: { reason, lock_owner_id: w.editor.id } });
  t.is(locked.status, 200, JSON.stringify(locked.body));
  t.like(locked.body, { locked: true, reason, locked_by: w.admin.id, lock_owner_id: w.editor.id });
  t.like((await w.viewer.call('GET', m)).body, { lock: { locked: true, reason, locked_by: w.admin.id, lock_owner_id: w.editor.id } });

  for (const who of [w.owner, w.admin]) {
    const refused = await writeOut(who, w.modelId, 1, crypto.randomBytes(100));
    t.is(refused.status, 423, JSON.stringify(refused.body));
    t.like(refused.body, { code: 'model_locked', reason, locked_by: w.admin.id, lock_owner_id: w.editor.id });
  }
  const baseline = crypto.randomBytes(500);
  const refusedBaseline = await w.owner.call('POST', `${m}/baselines?seq=1`, { raw: baseline, headers: { 'content-digest': digestHeader(baseline) } });
  t.like(refusedBaseline, { status: 423, body: { code: 'model_locked', reason } });
  t.is((server.stores.db.prepare('SELECT count(*) AS n FROM packets').get() as { n: number }).n, 1, 'nothing was written');

  // Reads go on for everyone.
  const read = await w.viewer.call('GET', `${m}/packets?after=0`);
  t.is(read.status, 200);
  t.is(read.body['head'], 1);
  t.deepEqual((await w.viewer.call('GET', `${m}/packets/1`)).bytes, first);

  // The lock owner may still write out and upload a baseline.
  const repaired = await writeOut(w.editor, w.modelId, 1, crypto.randomBytes(100));
  t.is(repaired.status, 201, JSON.stringify(repaired.body));
  t.is((await w.editor.call('POST', `${m}/baselines?seq=2`, { raw: baseline, headers: { 'content-digest': digestHeader(baseline) } })).status, 201);

  t.is((await w.owner.call('DELETE', `${m}/lock`)).status, 204);
  t.like((await w.viewer.call('GET', m)).body, { lock: { locked: false } });
  t.is((await writeOut(w.owner, w.modelId, 2, crypto.randomBytes(100))).status, 201, 'unlocked: the owner writes again');

  await eventually(() => events(stream).filter((f) => f.event === 'model').length >= 2, 'lock and unlock events');
  const changes = events(stream).filter((f) => f.event === 'model').map((f) => JSON.parse(f.data!) as Record<string, unknown>);
  t.like(changes[0], { model_id: w.modelId, change: 'locked', locked_by: w.admin.id, lock_owner_id: w.editor.id });
  t.like(changes[1], { model_id: w.modelId, change: 'unlocked', unlocked_by: w.owner.id });
  t.false(JSON.stringify(changes).includes('review'), 'events carry ids only, never the reason');

  const audit = server.stores.db.prepare("SELECT action, outcome, actor_id, reason FROM audit_events WHERE action IN ('model.lock', 'model.unlock', 'model.write_out', 'model.baseline') AND outcome = 'denied' OR action IN ('model.lock', 'model.unlock') ORDER BY at, rowid").all() as Record<string, unknown>[];
  t.true(audit.some((a) => a['action'] === 'model.lock' && a['outcome'] === 'allowed' && a['actor_id'] === w.admin.id));
  t.true(audit.some((a) => a['action'] === 'model.unlock' && a['outcome'] === 'allowed' && a['actor_id'] === w.owner.id));
  t.true(audit.some((a) => a['action'] === 'model.write_out' && a['reason'] === 'model_locked'));

  const row = server.stores.db.prepare('SELECT reason_sealed FROM model_locks').all() as { reason_sealed: Buffer }[];
  t.is(row.length, 0, 'unlocked: the row is gone');
});

test('the reason is sealed at rest, and a lock is refused before the body of a write-out is read', async (t) => {
  const server = await startServer(t);
  const w = await modelWorld(t, server);
  t.is((await w.owner.call('PUT', `/api/v1/models/${w.modelId}/lock`, { json: { reason } })).status, 200);
  const row = server.stores.db.prepare('SELECT reason_sealed FROM model_locks').get() as { reason_sealed: Buffer };
  t.false(row.reason_sealed.includes(Buffer.from('Structural review')));
  // Declares far more than it sends: answered at once from the headers, not after waiting for the body.
  const res = await w.editor.call('POST', `/api/v1/models/${w.modelId}/packets?base=0`, {
    raw: Buffer.from('partial'),
    headers: { 'content-digest': digestHeader(Buffer.from('x')) },
  });
  t.like(res, { status: 423, body: { code: 'model_locked', reason, lock_owner_id: null } });
  const staging = server.stores.db.prepare('SELECT count(*) AS n FROM blobs').get() as { n: number };
  t.is(staging.n, 0, 'no blob was stored');
});

test('an organization admin locks a model of the organization without being a member; its members are refused', async (t) => {
  const world = await orgWorld(t);
  const ada = await world.login(people.ada);
  const bob = await world.login(people.bob);
  const rita = await world.login(people.rita);
  const created = await world.call('POST', '/api/v1/models', bob.token, { name: 'Tower T1' });
  const modelId = String(created.body['id']);
  t.like(await world.call('PUT', `/api/v1/models/${modelId}/lock`, rita.token, { reason }), { status: 404 }, 'another organization learns nothing');
  t.like(await world.call('PUT', `/api/v1/models/${modelId}/lock`, ada.token, { reason }), { status: 200, body: { locked: true, locked_by: ada.id } });
  const packet = Buffer.from('column moved');
  const res = await world.server.fetch(`${world.server.url}/api/v1/models/${modelId}/packets?base=0`, {
    method: 'POST',
    headers: { authorization: `Bearer ${bob.token}`, 'content-type': 'application/octet-stream', 'content-digest': digestHeader(packet) },
    body: packet,
  });
  t.is(res.status, 423);
  t.like(await world.call('GET', `/api/v1/models/${modelId}`, bob.token), { body: { lock: { locked: true, locked_by: ada.id, reason } } });
  t.is((await world.call('DELETE', `/api/v1/models/${modelId}/lock`, ada.token)).status, 204);
});
