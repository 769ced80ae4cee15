/**
 * The listening server and its shutdown: on SIGTERM it stops accepting, lets requests in flight
 * finish (up to `server.shutdown_timeout`), then closes what is left. With a certificate source it
 * speaks HTTPS and swaps the certificate in place when the source changes it.
 */
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import type { AddressInfo } from 'node:net';
import type tls from 'node:tls';
import type Koa from 'koa';
import { errorCatalog } from './errors.ts';
import { problemBody } from './http/problem.ts';
import type { Log } from './log.ts';

export interface RunningServer {
  server: http.Server | https.Server;
  port: number;
  /** Stops accepting, waits for requests in flight up to `timeoutMs`, then drops the rest. */
  close(timeoutMs: number): Promise<void>;
}

export interface ListenOptions {
  host: string;
  port: number;
  maxHeaderSize: number;
  /** Longest time a whole request may take to arrive (server.request_timeout). */
  requestTimeoutMs: number;
  /** Longest time the request headers may take (server.header_timeout); capped at requestTimeoutMs. */
  headerTimeoutMs?: number | undefined;
  /** A connection without progress either way for this long is closed (server.idle_timeout). */
  idleTimeoutMs?: number | undefined;
  /** The certificate to serve; without one the server speaks plain HTTP (tls.mode off). */
  tls?: CertificateSource | undefined;
}

/** Where the certificate comes from (the TLS service): the current one, and word when it changes. */
export interface CertificateSource {
  current(): { key: string; cert: string };
  onChange(listener: () => void): unknown;
}

/**
 * TLS 1.2 and 1.3 only, with forward-secret AEAD suites (Mozilla's "intermediate" list), in the
 * server's order of preference. TLS 1.3 suites are listed too so the whole policy is in one place.
 */
export const tlsPolicy = {
  minVersion: 'TLSv1.2',
  ciphers: [
    'TLS_AES_128_GCM_SHA256',
    'TLS_AES_256_GCM_SHA384',
    'TLS_CHACHA20_POLY1305_SHA256',
    'ECDHE-ECDSA-AES128-GCM-SHA256',
    'ECDHE-RSA-AES128-GCM-SHA256',
    'ECDHE-ECDSA-AES256-GCM-SHA384',
    'ECDHE-RSA-AES256-GCM-SHA384',
    'ECDHE-ECDSA-CHACHA20-POLY1305',
    'ECDHE-RSA-CHACHA20-POLY1305',
  ].join(':'),
  honorCipherOrder: true,
} as const satisfies tls.SecureContextOptions;

/** Starts `server` listening; resolves with the port (the chosen one when `port` is 0), rejects on EADDRINUSE and the like. */
export function listenOn(server: net.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** A whole HTTP/1.1 problem response, for a socket that has no response object (or whose response never started). */
function rawProblem(code: 'header_too_large' | 'request_timeout' | 'bad_request', detail: string): string {
  const body = JSON.stringify(problemBody(code, detail));
  const { status } = errorCatalog[code];
  return `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}

/**
 * The idle timeout: a socket with no bytes moving either way for `idleMs` (an upload that stalled, a
 * download or notification stream its client stopped reading) is closed, so it cannot hold a
 * connection and its buffers forever. While the response has not started, the client gets 408.
 */
function watchIdle(server: http.Server, responses: WeakMap<net.Socket, http.ServerResponse>, idleMs: number, log: Log): void {
  // The socket's latest response; one that has closed counts as none. No listener on the response:
  // a streamed answer already carries ten 'close' listeners (ours and stream.pipeline's), and one
  // more makes Node warn of a leak (MaxListenersExceededWarning).
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => void responses.set(req.socket, res));
  server.setTimeout(idleMs, (socket: net.Socket) => {
    const latest = responses.get(socket);
    const res = latest?.closed ? undefined : latest;
    const req = (res as (http.ServerResponse & { req?: http.IncomingMessage }) | undefined)?.req;
    if (!res || !req) return socket.destroy();
    log.warn({ idle_ms: idleMs, response_started: res.headersSent }, 'connection made no progress within server.idle_timeout; closed');
    if (res.headersSent || res.writableEnded) return socket.destroy();
    const body = JSON.stringify(problemBody('request_timeout', 'The request made no progress within the time allowed'));
    res.writeHead(408, { 'Content-Type': 'application/problem+json', 'Content-Length': Buffer.byteLength(body), Connection: 'close' });
    res.end(body);
    // Node forgets a request once its response is finished, so a handler still waiting for the rest
    // of the body would wait forever: end the body (as a client abort), which lets it clean up.
    res.once('finish', () => req.destroy(Object.assign(new Error('aborted'), { code: 'ECONNRESET' })));
    // Should even the 408 not get through, the next idle period ends the connection.
    socket.setTimeout(idleMs, () => socket.destroy());
  });
}

export async function listen(app: Koa<any>, options: ListenOptions, log: Log): Promise<RunningServer> {
  // Node refuses a header timeout longer than the request timeout: cap it, so any positive
  // request_timeout starts. Node checks both on a timer; check often enough for short settings.
  const headersTimeout = Math.min(options.headerTimeoutMs ?? 60_000, options.requestTimeoutMs);
  const httpOptions = {
    maxHeaderSize: options.maxHeaderSize,
    requestTimeout: options.requestTimeoutMs,
    headersTimeout,
    connectionsCheckingInterval: Math.max(10, Math.min(30_000, Math.floor(headersTimeout / 4))),
    // TCP keep-alive probes find a peer that vanished (a laptop closed) under a quiet event stream,
    // whose small heartbeats would otherwise sit in the send buffer for days.
    keepAlive: true,
    keepAliveInitialDelay: options.idleTimeoutMs ?? 60_000,
    // An idle connection between requests lasts as long as any other idle connection. Node's 5 s
    // default races a client that reuses the connection just as the server closes it: a POST then
    // fails without an answer, and a client may not safely repeat it.
    keepAliveTimeout: options.idleTimeoutMs ?? 60_000,
  };
  const source = options.tls;
  const server = source
    ? https.createServer({ ...httpOptions, ...tlsPolicy, ...source.current() }, app.callback())
    : http.createServer(httpOptions, app.callback());
  if (source && server instanceof https.Server) {
    // Only new handshakes use the new context; open connections keep the certificate they were made with.
    source.onChange(() => {
      server.setSecureContext({ ...tlsPolicy, ...source.current() });
      log.info('serving the new certificate to new connections');
    });
  }
  const responses = new WeakMap<net.Socket, http.ServerResponse>();
  // Errors before a request exists (oversized headers, garbage) still get a problem document.
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    if (!socket.writable || responses.get(socket as net.Socket)?.headersSent) return socket.destroy();
    const code = error.code === 'HPE_HEADER_OVERFLOW' ? 'header_too_large' : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'request_timeout' : 'bad_request';
    const detail = { header_too_large: 'The request headers are larger than the limit', request_timeout: 'The request did not arrive within the time allowed', bad_request: 'The request could not be parsed' }[code];
    socket.end(rawProblem(code, detail));
  });
  watchIdle(server, responses, options.idleTimeoutMs ?? 60_000, log);
  const port = await listenOn(server, options.port, options.host);
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
