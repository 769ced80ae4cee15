/**
 * Roll back without losing history (issue 22): the later packets stay retrievable on a closed branch,
 * sequence numbers move forward (never reused), a client past the point is told (an event and a 409
 * `rolled_back`) and joins again to the same bytes as the owner; a branch can be restored.
 */
import crypto from 'node:crypto';
import test from 'ava';
import { eventually } from '../helpers/eventually.ts';
import { modelWorld } from '../helpers/models.ts';
import { digestHeader, writeOut, type Caller } from '../helpers/people.ts';
import { startServer, type TestServer } from '../helpers/server.ts';
import { events, openSse } from '../helpers/sse.ts';

const bytes = (n: number) => crypto.randomBytes(n);

/** Joins as PROTOCOL.md says: the newest baseline, then every packet after it. */
async function join(who: Caller, modelId: string): Promise<{ baseline: Buffer; packets: Buffer[]; head: number }> {
  const m = `/api/v1/models/${modelId}`;
  const baseline = await who.call('GET', `${m}/baselines/latest`);
  const from = Number(baseline.headers.get('modelshare-seq'));
  const list = await who.call('GET', `${m}/packets?after=${from}`);
  if (list.status !== 200) throw new Error(JSON.stringify(list.body));
  const packets: Buffer[] = [];
  for (const p of list.body['packets'] as { seq: number }[]) packets.push((await who.call('GET', `${m}/packets/${p.seq}`)).bytes);
  return { baseline: baseline.bytes, packets, head: Number(list.body['head']) };
}

const counts = (server: TestServer) => server.stores.db.prepare('SELECT (SELECT count(*) FROM packets) AS packets, (SELECT count(*) FROM baselines) AS baselines, (SELECT count(*) FROM model_branches) AS branches').get();

test('refusals: only the owner or an organization admin rolls back, to a point that exists; a refusal changes nothing', async (t) => {
  const server = await startServer(t);
  const w = await modelWorld(t, server);
  const m = `/api/v1/models/${w.modelId}`;
  const b0 = bytes(100);
  t.is((await w.owner.call('POST', `${m}/baselines?seq=0`, { raw: b0, headers: { 'content-digest': digestHeader(b0) } })).status, 201);
  t.is((await writeOut(w.editor, w.modelId, 0, bytes(10))).status, 201);
  const before = counts(server);
  t.like(await w.admin.call('POST', `${m}/rollback`, { json: { to: 0 } }), { status: 403, body: { code: 'forbidden' } });
  t.like(await w.editor.call('POST', `${m}/rollback`, { json: { to: 0 } }), { status: 403 });
  t.like(await w.viewer.call('POST', `${m}/rollback`, { json: { to: 0 } }), { status: 403 });
  t.like(await w.outsider.call('POST', `${m}/rollback`, { json: { to: 0 } }), { status: 404 });
  t.like(await w.owner.call('POST', `${m}/rollback`, { json: { to: 5 } }), { status: 400, body: { code: 'validation_failed' } });
  t.like(await w.owner.call('POST', `${m}/rollback`, { json: { to: 1 } }), { status: 409, body: { code: 'conflict' } }, 'already there');
  t.like(await w.owner.call('POST', `${m}/rollback`, { json: { to: -1 } }), { status: 400 });
  t.like(await w.owner.call('POST', `${m}/branches/br_nope/restore`), { status: 404 });
  t.deepEqual(counts(server), before);
  t.is((await w.admin.call('PUT', `${m}/lock`, { json: { reason: 'frozen' } })).status, 200);
  t.like(await w.owner.call('POST', `${m}/rollback`, { json: { to: 0 } }), { status: 423, body: { code: 'model_locked' } }, 'locked by someone else');
  t.deepEqual(counts(server), before);
  t.is((await w.admin.call('PUT', `${m}/lock`, { json: { reason: 'frozen', lock_owner_id: w.owner.id } })).status, 200);
  t.like(await w.owner.call('POST', `${m}/rollback`, { json: { to: 0 } }), { status: 201 }, 'the lock owner may roll back');
});

test('a rollback keeps every later packet retrievable; a client past the point is told and re-joins to the owner\'s bytes; the branch can be restored', async (t) => {
  const server = await startServer(t);
  const w = await modelWorld(t, server);
  const m = `/api/v1/models/${w.modelId}`;
  const b0 = bytes(300_000);
  t.is((await w.owner.call('POST', `${m}/baselines?seq=0`, { raw: b0, headers: { 'content-digest': digestHeader(b0) } })).status, 201);
  const p = [bytes(1000), bytes(2000), bytes(3000), bytes(4000)];
  for (const [i, packet] of p.entries()) t.is((await writeOut(w.editor, w.modelId, i, packet, { 'modelshare-comment': `step ${i + 1}` })).status, 201);
  // The viewer's client has read in up to 4.
  t.is((await w.viewer.call('GET', `${m}/packets?after=0`)).body['head'], 4);
  const stream = await openSse(server, `${m}/events`, w.viewer.token);
  t.teardown(() => stream.close());

  const rolled = await w.owner.call('POST', `${m}/rollback`, { json: { to: 2 } });
  t.is(rolled.status, 201, JSON.stringify(rolled.body));
  // Numbers move forward: marker 5 with a baseline as of 5 (the bytes of baseline 0), copies of packets 1 and 2 as 6 and 7.
  t.like(rolled.body, { head: 7, baseline: { seq: 5 }, branch: { rolled_back_to: 2, tip: 4, marker: 5, created_by: w.owner.id } });
  const branchId = String((rolled.body['branch'] as Record<string, unknown>)['id']);
  t.like((await w.viewer.call('GET', m)).body, { head: 7, latest_baseline: { seq: 5 } });

  const owner = await join(w.owner, w.modelId);
  t.deepEqual(owner.baseline, b0);
  t.deepEqual(owner.packets, [p[0], p[1]]);

  // The client past the point is told: an event, and a 409 rolled_back on its next read-in and write-out.
  await eventually(() => events(stream).some((f) => f.event === 'model'), 'the rollback event');
  const event = JSON.parse(events(stream).find((f) => f.event === 'model')!.data!) as Record<string, unknown>;
  t.like(event, { model_id: w.modelId, change: 'rolled_back', rolled_back_to: 2, branch_id: branchId, head: 7, baseline: 5 });
  const readIn = await w.viewer.call('GET', `${m}/packets?after=4`);
  t.like(readIn, { status: 409, body: { code: 'rolled_back', rolled_back_to: 2, head: 7, baseline: { seq: 5 }, branch_id: branchId } });
  const writer = await writeOut(w.editor, w.modelId, 4, bytes(10));
  t.like(writer, { status: 409, body: { code: 'rolled_back', rolled_back_to: 2, baseline: { seq: 5 } } });
  t.like(await w.viewer.call('GET', `${m}/packets?after=1`), { status: 409, body: { code: 'rolled_back' } }, 'a reader before the point would read into the branch: joins again too');
  t.like(await writeOut(w.editor, w.modelId, 6, bytes(10)), { status: 409, body: { code: 'not_up_to_date', head: 7 } }, 'behind on the new line: an ordinary read-in');

  // It re-joins to the same bytes as the owner and writes on.
  t.deepEqual(await join(w.viewer, w.modelId), owner);
  const next = bytes(500);
  t.like(await writeOut(w.editor, w.modelId, 7, next), { status: 201, body: { seq: 8 } });

  // Nothing was destroyed: the branch is listed, its packets downloadable, even after the history retention ran.
  await server.services.sharing.history.prune(w.modelId, 1000);
  const branches = await w.viewer.call('GET', `${m}/branches`);
  t.deepEqual((branches.body['branches'] as Record<string, unknown>[]).map((b) => [b['id'], b['tip']]), [[branchId, 4]]);
  const listed = await w.viewer.call('GET', `${m}/branches/${branchId}/packets`);
  t.deepEqual((listed.body['packets'] as Record<string, unknown>[]).map((x) => [x['seq'], x['size'], x['comment']]), [[3, 3000, 'step 3'], [4, 4000, 'step 4']]);
  t.deepEqual((await w.viewer.call('GET', `${m}/packets/3`)).bytes, p[2]);
  t.deepEqual((await w.viewer.call('GET', `${m}/packets/4`)).bytes, p[3]);

  // Restoring the branch returns the line to its tip; what was written since becomes a branch in turn.
  const restored = await w.owner.call('POST', `${m}/branches/${branchId}/restore`);
  t.is(restored.status, 201, JSON.stringify(restored.body));
  t.like(restored.body, { head: 13, baseline: { seq: 9 }, branch: { rolled_back_to: 4, tip: 8 } });
  const after = await join(w.owner, w.modelId);
  t.deepEqual(after.baseline, b0);
  t.deepEqual(after.packets, p);
  t.deepEqual((await w.viewer.call('GET', `${m}/packets/8`)).bytes, next, 'the packet written after the rollback is kept too');
  t.like((await w.viewer.call('GET', `${m}/branches`)).body, { branches: [{ tip: 8 }, { id: branchId, restored_by: w.owner.id }] });

  const audit = server.stores.db.prepare("SELECT action, actor_id FROM audit_events WHERE action IN ('model.rollback', 'model.branch_restore') AND outcome = 'allowed' ORDER BY seq").all();
  t.deepEqual(audit, [{ action: 'model.rollback', actor_id: w.owner.id }, { action: 'model.branch_restore', actor_id: w.owner.id }]);
});
