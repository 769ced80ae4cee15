/**
 * The event fan-out (issue 20): however many streams are open, a write-out is read from the event
 * log once and framed once; every caught-up stream gets the same frame, exactly once and in order;
 * a stream that is behind (a replay) catches up by itself and then joins; and the filter still
 * holds per person (an outsider's stream, open beside the members', gets nothing).
 */
import test from 'ava';
import { eventually } from '../helpers/eventually.ts';
import { modelWorld } from '../helpers/models.ts';
import { writeOut } from '../helpers/people.ts';
import { startServer } from '../helpers/server.ts';
import { events, openSse, type SseReader } from '../helpers/sse.ts';

test('one read of the event log per write-out serves every open stream, each event once and in order', async (t) => {
  const server = await startServer(t, { MODELSHARE_EVENTS_MAX_STREAMS_PER_PERSON: '20', MODELSHARE_EVENTS_RECHECK: '60s', MODELSHARE_EVENTS_HEARTBEAT: '60s' });
  const w = await modelWorld(t, server);
  const log = server.services.sharing.events;
  const streams: SseReader[] = [];
  for (let i = 0; i < 12; i++) streams.push(await openSse(server, '/api/v1/events', w.viewer.token));
  for (let i = 0; i < 6; i++) streams.push(await openSse(server, `/api/v1/models/${w.modelId}/events`, w.editor.token));
  const outsider = await openSse(server, '/api/v1/events', w.outsider.token);
  t.teardown(() => [...streams, outsider].forEach((s) => s.close()));
  t.true(streams.every((s) => s.status === 200));
  // Let every stream's opening read finish, so that all are caught up.
  await eventually(() => streams.every((s) => s.frames.some((f) => f.comment === 'connected')), 'every stream to open');
  await new Promise((r) => setTimeout(r, 200));

  // Count the reads of the log (the real method, counted, not replaced).
  let reads = 0;
  const after = log.after.bind(log);
  log.after = (id: number, limit?: number) => {
    reads++;
    return after(id, limit);
  };
  t.teardown(() => void (log.after = after));
  for (let base = 0; base < 3; base++) await writeOut(w.editor, w.modelId, base, Buffer.from(`packet ${base}`));
  await eventually(() => streams.every((s) => events(s).length === 3), 'three events on every stream');
  const readsForThree = reads;
  // Up to one read per write-out and one per sweep tick: far fewer than one per stream per write-out.
  t.true(readsForThree < streams.length, `${readsForThree} reads of the log for ${streams.length} streams and 3 write-outs`);

  for (const s of streams) t.deepEqual(events(s).map((f) => JSON.parse(f.data!).seq), [1, 2, 3]);
  const first = events(streams[0]!).map((f) => `${f.id}|${f.data}`);
  for (const s of streams) t.deepEqual(events(s).map((f) => `${f.id}|${f.data}`), first, 'the same frames everywhere');
  t.deepEqual(events(outsider), [], 'the outsider gets nothing');

  // A replaying stream starts behind, catches up alone, then gets the next write-out from the fan-out.
  const replay = await openSse(server, '/api/v1/events', w.admin.token, { 'last-event-id': '0' });
  t.teardown(() => replay.close());
  await eventually(() => events(replay).filter((f) => f.event === 'packet').length === 3, 'the replay');
  await writeOut(w.editor, w.modelId, 3, Buffer.from('packet 3'));
  await eventually(() => events(replay).filter((f) => f.event === 'packet').length === 4 && streams.every((s) => events(s).length === 4), 'the fourth event');
  t.deepEqual(events(replay).filter((f) => f.event === 'packet').map((f) => JSON.parse(f.data!).seq), [1, 2, 3, 4]);
});

test('the shared re-check ends every stream of a revoked token, and only those', async (t) => {
  const server = await startServer(t, { MODELSHARE_EVENTS_RECHECK: '100ms' });
  const w = await modelWorld(t, server);
  const revoked = [
    await openSse(server, '/api/v1/events', w.viewer.token),
    await openSse(server, `/api/v1/models/${w.modelId}/events`, w.viewer.token),
    await openSse(server, '/api/v1/events', w.viewer.token),
  ];
  const kept = await openSse(server, '/api/v1/events', w.editor.token);
  t.teardown(() => [...revoked, kept].forEach((s) => s.close()));
  // A few sweeps pass with the token valid: the answers of one sweep are not kept for the next.
  await new Promise((r) => setTimeout(r, 400));
  t.false(revoked.some((s) => s.ended));
  server.services.identity.tokens.revoke(w.viewer.token);
  await eventually(() => revoked.every((s) => s.ended), 'every stream of the revoked token to end');
  for (const s of revoked) t.like(JSON.parse(events(s).find((f) => f.event === 'error')!.data!), { code: 'unauthorized' });
  t.false(kept.ended, 'another person’s stream goes on');
});
