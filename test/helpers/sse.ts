/** Reads a Server-Sent Events stream as a list of frames, for the notification tests. */
import https from 'node:https';
import type { TestServer } from './server.ts';

export interface Frame {
  id?: string;
  event?: string;
  data?: string;
  comment?: string;
}

export interface SseReader {
  status: number;
  frames: Frame[];
  ended: boolean;
  close(): void;
}

export function openSse(server: TestServer, path: string, token: string, headers: Record<string, string> = {}): Promise<SseReader> {
  return new Promise((resolve, reject) => {
    const req = https.get(`${server.url}${path}`, { ca: server.ca, headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream', ...headers } }, (res) => {
      const reader: SseReader = { status: res.statusCode!, frames: [], ended: false, close: () => req.destroy() };
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const frame: Frame = {};
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) frame.comment = line.slice(1).trim();
            else {
              const [field, ...rest] = line.split(':');
              (frame as Record<string, string>)[field!] = rest.join(':').trimStart();
            }
          }
          reader.frames.push(frame);
        }
      });
      res.on('end', () => (reader.ended = true));
      res.on('close', () => (reader.ended = true));
      resolve(reader);
    });
    req.on('error', (e) => ((e as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(e)));
  });
}

export const events = (r: SseReader) => r.frames.filter((f) => f.event);
