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
  requestTimeoutMs: number;
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

export async function listen(app: Koa<any>, options: ListenOptions, log: Log): Promise<RunningServer> {
  const httpOptions = { maxHeaderSize: options.maxHeaderSize, requestTimeout: options.requestTimeoutMs, headersTimeout: 60_000 };
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
  // Errors before a request exists (oversized headers, garbage) still get a problem document.
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return socket.destroy();
    const code = error.code === 'HPE_HEADER_OVERFLOW' ? 'header_too_large' : 'bad_request';
    const body = JSON.stringify(problemBody(code, code === 'header_too_large' ? 'The request headers are larger than the limit' : 'The request could not be parsed'));
    const status = code === 'header_too_large' ? '431 Request Header Fields Too Large' : '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  });
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
