/**
 * No response collects listeners: Node warns (MaxListenersExceededWarning) past ten 'close' listeners
 * on one emitter, and a listener added per chunk or per wait would grow without bound on a long
 * download or event stream. A streamed answer carries stream.pipeline's seven (koa pipes the body)
 * and two of ours (request log, metrics); the limit here is set to that, so one more fails the test.
 */
import crypto from 'node:crypto';
import { EventEmitter } from 'node:events';
import test from 'ava';
import { digestHeader, person } from '../helpers/people.ts';
import { startServer } from '../helpers/server.ts';

test('a large download read slowly, an upload and an event stream add no listener to their response past the streamed-body nine', async (t) => {
  const warnings: string[] = [];
  const onWarning = (w: Error & { emitter?: unknown }) => {
    if (w.name === 'MaxListenersExceededWarning') warnings.push(w.message);
  };
  process.on('warning', onWarning);
  const previous = EventEmitter.defaultMaxListeners;
  EventEmitter.defaultMaxListeners = 9;
  t.teardown(() => {
    EventEmitter.defaultMaxListeners = previous;
    process.off('warning', onWarning);
  });
  const server = await startServer(t);
  const owner = person(server, 'Olive');
  const created = await owner.call('POST', '/api/v1/models', { json: { name: 'Bridge' } });
  const m = `/api/v1/models/${String(created.body['id'])}`;
  const snapshot = crypto.randomBytes(6 * 1024 * 1024 + 99);
  t.is((await owner.call('POST', `${m}/baselines?seq=0`, { raw: snapshot, headers: { 'content-digest': digestHeader(snapshot) } })).status, 201);

  const events = await server.fetch(`${server.url}${m}/events`, { headers: { authorization: `Bearer ${owner.token}` } });
  t.is(events.status, 200);
  const download = await server.fetch(`${server.url}${m}/baselines/latest`, { headers: { authorization: `Bearer ${owner.token}` } });
  t.is(download.status, 200);
  // Read slowly, so the response waits for the socket to drain many times over.
  const reader = download.body!.getReader();
  let received = 0;
  for (let r = await reader.read(); !r.done; r = await reader.read()) {
    received += r.value.length;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  t.is(received, snapshot.length);
  await events.body?.cancel();
  // Warnings are emitted on the next tick.
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.deepEqual(warnings, []);
});
