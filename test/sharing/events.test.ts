import test from 'ava';
import { eventually } from '../helpers/eventually.ts';
import { modelWorld } from '../helpers/models.ts';
import { writeOut } from '../helpers/people.ts';
import { startServer } from '../helpers/server.ts';
import { events, openSse } from '../helpers/sse.ts';

test('members receive packet, baseline, membership and model events with ids; others get nothing', async (t) => {
  const server = await startServer(t, { MODELSHARE_EVENTS_HEARTBEAT: '200ms' });
  const w = await modelWorld(t, server);
  const all = await openSse(server, '/api/v1/events', w.viewer.token);
  const one = await openSse(server, `/api/v1/models/${w.modelId}/events`, w.owner.token);
  const outsider = await openSse(server, '/api/v1/events', w.outsider.token);
  t.teardown(() => [all, one, outsider].forEach((r) => r.close()));
  t.is(all.status, 200);
  t.is((await openSse(server, `/api/v1/models/${w.modelId}/events`, w.outsider.token)).status, 404);

  await writeOut(w.editor, w.modelId, 0, Buffer.from('first'));
  await w.admin.call('PATCH', `/api/v1/models/${w.modelId}`, { json: { name: 'Renamed' } });
  await eventually(() => events(all).length >= 2 && events(one).length >= 2, 'the events');
  const packet = events(all)[0]!;
  t.is(packet.event, 'packet');
  t.deepEqual(JSON.parse(packet.data!), { model_id: w.modelId, seq: 1, author: w.editor.id });
  t.regex(packet.id!, /^\d+$/);
  t.like(JSON.parse(events(all)[1]!.data!), { model_id: w.modelId, change: 'renamed' });
  t.false(JSON.stringify(all.frames).includes('Renamed'), 'events carry ids, not names');
  await eventually(() => all.frames.some((f) => f.comment === 'keep-alive'), 'a heartbeat');
  t.deepEqual(events(outsider), []);
});

test('reconnecting with Last-Event-ID replays what was missed', async (t) => {
  const server = await startServer(t);
  const w = await modelWorld(t, server);
  const first = await openSse(server, '/api/v1/events', w.viewer.token);
  await writeOut(w.editor, w.modelId, 0, Buffer.from('1'));
  await eventually(() => events(first).length === 1, 'the first event');
  const lastId = events(first)[0]!.id!;
  first.close();
  await writeOut(w.editor, w.modelId, 1, Buffer.from('2'));
  await writeOut(w.editor, w.modelId, 2, Buffer.from('3'));
  const again = await openSse(server, '/api/v1/events', w.viewer.token, { 'last-event-id': lastId });
  t.teardown(() => again.close());
  await eventually(() => events(again).length === 2, 'the replay');
  t.deepEqual(events(again).map((f) => JSON.parse(f.data!).seq), [2, 3]);
});

test('a removed member stops receiving at once: the membership event, then nothing', async (t) => {
  const server = await startServer(t);
  const w = await modelWorld(t, server);
  const all = await openSse(server, '/api/v1/events', w.viewer.token);
  const one = await openSse(server, `/api/v1/models/${w.modelId}/events`, w.viewer.token);
  t.teardown(() => [all, one].forEach((r) => r.close()));
  await w.admin.call('DELETE', `/api/v1/models/${w.modelId}/members/${w.viewer.id}`);
  await writeOut(w.editor, w.modelId, 0, Buffer.from('after removal'));
  await eventually(() => one.ended, 'the model stream to end');
  await eventually(() => events(all).some((f) => f.event === 'membership'), 'the removal');
  const owner = await openSse(server, `/api/v1/models/${w.modelId}/events`, w.owner.token, { 'last-event-id': '0' });
  t.teardown(() => owner.close());
  await eventually(() => events(owner).some((f) => f.event === 'packet'), 'the packet, for a member');
  t.like(JSON.parse(events(all).find((f) => f.event === 'membership')!.data!), { change: 'removed', person_id: w.viewer.id });
  t.false(all.frames.some((f) => f.event === 'packet'));
  t.false(one.frames.some((f) => f.event === 'packet'));
});
