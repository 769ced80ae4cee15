/**
 * The event stream of a client: Server-Sent Events parsed as they arrive, and a watch that
 * reconnects after a drop with `Last-Event-ID`, so the server replays what was missed. A stream the
 * server ends with `event: error` is final for that code (the token ended: refresh and go on; the
 * person lost access: stop). `410 events_expired` means the gap is too old: re-join the model.
 */
import { ModelshareClient, ModelshareError } from './client.ts';

export interface ModelEvent {
  id: string;
  type: string;
  data: Record<string, unknown>;
}

/** Splits an SSE body into frames (comment lines are skipped). */
async function* frames(body: AsyncIterable<Buffer | string>): AsyncGenerator<{ id?: string; event?: string; data: string }> {
  let buffer = '';
  for await (const chunk of body) {
    buffer += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const frame: { id?: string; event?: string; data: string } = { data: '' };
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'id') frame.id = value;
        else if (field === 'event') frame.event = value;
        else if (field === 'data') frame.data += frame.data ? `\n${value}` : value;
      }
      if (frame.event || frame.data) yield frame;
    }
  }
}

export interface WatchOptions {
  /** One model's events; all of the caller's models without. */
  modelId?: string;
  /** Resume after this event (a stored id from an earlier run). */
  lastEventId?: string;
  signal?: AbortSignal;
  /** Told when the stream dropped and is being reopened. */
  onReconnect?: (attempt: number, delayMs: number, lastEventId: string | undefined) => void;
  /** Waits before reconnecting (tests pass a fast one). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  maxDelayMs?: number;
}

const defaultSleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });

/** Every event, for as long as the caller iterates: reconnects after drops, never skips one. */
export async function* watch(client: ModelshareClient, options: WatchOptions = {}): AsyncGenerator<ModelEvent> {
  const path = options.modelId ? `/api/v1/models/${encodeURIComponent(options.modelId)}/events` : '/api/v1/events';
  const sleep = options.sleep ?? defaultSleep;
  let lastEventId = options.lastEventId;
  let failures = 0;
  while (!options.signal?.aborted) {
    let res;
    try {
      res = await client.raw('GET', path, { headers: { accept: 'text/event-stream', ...(lastEventId ? { 'last-event-id': lastEventId } : {}) } });
    } catch (error) {
      if (error instanceof ModelshareError) throw error;
      res = undefined; // the server cannot be reached: try again
    }
    let refresh = false;
    if (res && res.status === 429) {
      const wait = Number(res.headers['retry-after'] ?? 30) * 1000;
      await res.body.dump();
      await sleep(wait, options.signal);
      continue;
    }
    if (res && res.status !== 200) await ModelshareClient.answer(res); // throws the problem: 404, 410 events_expired, …
    if (res) {
      const body = res.body;
      const stop = () => body.destroy();
      options.signal?.addEventListener('abort', stop, { once: true });
      try {
        for await (const frame of frames(res.body)) {
          failures = 0;
          if (frame.event === 'error') {
            const code = String((JSON.parse(frame.data || '{}') as { code?: string }).code ?? 'error');
            if (code !== 'unauthorized') throw new ModelshareError(0, code, `The server ended the event stream: ${code}`);
            refresh = true; // the access token ended; a fresh one reopens the stream
            break;
          }
          if (frame.id) lastEventId = frame.id;
          yield { id: frame.id ?? '', type: frame.event ?? 'message', data: frame.data ? (JSON.parse(frame.data) as Record<string, unknown>) : {} };
        }
      } catch (error) {
        if (error instanceof ModelshareError) throw error;
        // The connection dropped: reconnect below.
      } finally {
        options.signal?.removeEventListener('abort', stop);
        body.destroy();
      }
    }
    if (options.signal?.aborted) return;
    if (refresh) await client.accessToken(true);
    const delay = Math.min(options.maxDelayMs ?? 30_000, 500 * 2 ** Math.min(failures++, 6));
    options.onReconnect?.(failures, delay, lastEventId);
    await sleep(delay, options.signal);
  }
}
