/**
 * The minimum upload rate: a body that arrives slower than `bytesPerSecond`, averaged over each
 * window of `windowMs`, is cut off with 408, so a client trickling a byte a second cannot hold a
 * connection, a staging file and a request slot for hours. (A body that stops entirely is caught
 * sooner by the idle timeout of the server.)
 */
import { finished, PassThrough, type Readable } from 'node:stream';
import { AppError } from '../errors.ts';

export interface UploadPace {
  bytesPerSecond: number;
  windowMs: number;
}

/**
 * The body, passed through while it keeps pace. When it falls behind, the returned stream fails
 * with `request_timeout` and the request is left paused but open, so the 408 can still be sent.
 */
export function keepingPace(source: Readable, pace: UploadPace): Readable {
  if (pace.bytesPerSecond <= 0) return source;
  const out = new PassThrough();
  const needed = (pace.bytesPerSecond * pace.windowMs) / 1000;
  let received = 0;
  const count = (chunk: Buffer) => void (received += chunk.length);
  const timer = setInterval(() => {
    if (received >= needed) {
      received = 0;
      return;
    }
    stop();
    source.unpipe(out);
    source.pause();
    out.destroy(new AppError('request_timeout', `The body arrived slower than the minimum of ${pace.bytesPerSecond} bytes a second`, { extra: { min_bytes_per_second: pace.bytesPerSecond } }));
  }, pace.windowMs);
  const stop = () => {
    clearInterval(timer);
    source.off('data', count);
  };
  source.on('data', count);
  // Errors of the request (the client went away, even before this was called) reach the reader.
  finished(source, (error) => {
    if (!error) return;
    stop();
    out.destroy(error);
  });
  out.once('close', stop);
  source.once('end', stop);
  return source.pipe(out);
}
