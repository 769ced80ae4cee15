/**
 * The listening server and its shutdown: on SIGTERM it stops accepting, lets requests in flight
 * finish (up to `server.shutdown_timeout`), then closes what is left.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type Koa from 'koa';
import { problemBody } from './http/problem.ts';
import type { Log } from './log.ts';

export interface RunningServer {
  server: http.Server;
  port: number;
  /** Stops accepting, waits for requests in flight up to `timeoutMs`, then drops the rest. */
  close(timeoutMs: number): Promise<void>;
}

export interface ListenOptions {
  host: string;
  port: number;
  maxHeaderSize: number;
  requestTimeoutMs: number;
}

export async function listen(app: Koa<any>, options: ListenOptions, log: Log): Promise<RunningServer> {
  const server = http.createServer(
    { maxHeaderSize: options.maxHeaderSize, requestTimeout: options.requestTimeoutMs, headersTimeout: 60_000 },
    app.callback(),
  );
  // Errors before a request exists (oversized headers, garbage) still get a problem document.
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return socket.destroy();
    const code = error.code === 'HPE_HEADER_OVERFLOW' ? 'header_too_large' : 'bad_request';
    const body = JSON.stringify(problemBody(code, code === 'header_too_large' ? 'The request headers are larger than the limit' : 'The request could not be parsed'));
    const status = code === 'header_too_large' ? '431 Request Header Fields Too Large' : '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    async close(timeoutMs) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => {
        log.warn({ timeout_ms: timeoutMs }, 'shutdown timeout reached; closing the remaining connections');
        server.closeAllConnections();
      }, timeoutMs);
      await closed;
      clearTimeout(timer);
    },
  };
}
