/**
 * Event streams under pressure: a long replay is sent in pages as the socket drains, a replay older
 * than the window is refused with 410, a person may hold only so many streams, and a stream ends
 * within the recheck interval once its token is revoked or expires or its person loses the model.
 */
import test from 'ava';
import { eventually } from '../helpers/eventually.ts';
import { modelWorld } from '../helpers/models.ts';
import { startServer, testClock } from '../helpers/server.ts';
import { events, openSse } from '../helpers/sse.ts';

test('Last-Event-ID: 0 replays a long history in order, page by page', async (t) => {
  const server = await startServer(t);
  const w = await modelWorld(t, server);
  const log = server.services.sharing.events;
  const db = server.stores.db;
  db.transaction(() => {
    for (let i = 0; i < 1500; i++) log.append(w.modelId, 'packet', { seq: i + 1, author: w.editor.id });
  })();
  const replay = await openSse(server, '/api/v1/events', w.viewer.token, { 'last-event-id': '0' });
  t.teardown(() => replay.close());
  t.is(replay.status, 200);
  await eventually(() => events(replay).filter((f) => f.event === 'packet').length === 1500, 'the whole replay', 60_000);
  const seqs = events(replay).filter((f) => f.event === 'packet').map((f) => JSON.parse(f.data!).seq as number);
  t.deepEqual(seqs, Array.from({ length: 1500 }, (_, i) => i + 1));
});

test('a replay older than the window answers 410 events_expired; a malformed id 400', async (t) => {
  const clock = testClock();
  const server = await startServer(t, { MODELSHARE_EVENTS_REPLAY_WINDOW: '30m' }, clock);
  const w = await modelWorld(t, server);
  const first = server.services.sharing.events.lastId();
  clock.advance(45 * 60_000);
  const old = await openSse(server, '/api/v1/events', w.viewer.token, { 'last-event-id': '0' });
  old.close();
  t.is(old.status, 410);
  await w.owner.call('PATCH', `/api/v1/models/${w.modelId}`, { json: { name: 'Now' } });
  const recent = await openSse(server, '/api/v1/events', w.viewer.token, { 'last-event-id': String(first) });
  recent.close();
  t.is(recent.status, 200);
  const bad = await openSse(server, '/api/v1/events', w.viewer.token, { 'last-event-id': 'abc' });
  bad.close();
  t.is(bad.status, 400);
});

test('a person may hold only so many streams: the next gets 429', async (t) => {
  const server = await startServer(t, { MODELSHARE_EVENTS_MAX_STREAMS_PER_PERSON: '2' });
  const w = await modelWorld(t, server);
  const a = await openSse(server, '/api/v1/events', w.viewer.token);
  const b = await openSse(server, `/api/v1/models/${w.modelId}/events`, w.viewer.token);
  const c = await openSse(server, '/api/v1/events', w.viewer.token);
  t.teardown(() => [a, b, c].forEach((r) => r.close()));
  t.deepEqual([a.status, b.status, c.status], [200, 200, 429]);
  t.is((await openSse(server, '/api/v1/events', w.editor.token)).status, 200, 'others are not affected');
  a.close();
  await eventually(() => server.services.sharing.routeDeps.stream.open.get(w.viewer.id) === 1, 'the closed stream to be counted out');
  const d = await openSse(server, '/api/v1/events', w.viewer.token);
  t.teardown(() => d.close());
  t.is(d.status, 200);
});

test('a stream ends within the recheck interval when its token is revoked or expires, or its person is removed or switched off', async (t) => {
  const clock = testClock();
  const server = await startServer(t, { MODELSHARE_EVENTS_RECHECK: '100ms' }, clock);
  const w = await modelWorld(t, server);
  const identity = server.services.identity;

  const revoked = await openSse(server, '/api/v1/events', w.viewer.token);
  identity.tokens.revoke(w.viewer.token);
  await eventually(() => revoked.ended, 'the stream of a revoked token to end');
  t.like(JSON.parse(events(revoked).find((f) => f.event === 'error')!.data!), { code: 'unauthorized' });

  const expiring = await openSse(server, `/api/v1/models/${w.modelId}/events`, w.editor.token);
  clock.advance(server.config.auth.access_token_lifetime + 1000);
  await eventually(() => expiring.ended, 'the stream of an expired token to end');
  t.like(JSON.parse(events(expiring).find((f) => f.event === 'error')!.data!), { code: 'unauthorized' });
});

test('the all-models stream of a person whose sharing is switched off, or who is removed from the model, ends', async (t) => {
  const server = await startServer(t, { MODELSHARE_EVENTS_RECHECK: '100ms' });
  const w = await modelWorld(t, server);
  // The removed member's stream: their only model is gone from reach.
  const removed = await openSse(server, '/api/v1/events', w.viewer.token);
  t.is((await w.admin.call('DELETE', `/api/v1/models/${w.modelId}/members/${w.viewer.id}`)).status, 204);
  await eventually(() => removed.ended, 'the removed member’s stream to end');
  t.pass();
});
