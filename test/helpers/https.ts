/**
 * Talking to a server over its own TLS: a fetch that trusts the server's CA (and nothing else), the
 * CA of a spawned server fetched and checked against the fingerprint it logged (pinning, as a client
 * does), the certificate a new connection is served, and `openssl` for handshakes node will not make.
 */
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import https from 'node:https';
import tls from 'node:tls';
import type { ExecutionContext } from 'ava';
import { Agent, fetch as undiciFetch } from 'undici';

export type Fetch = (url: string, init?: Parameters<typeof undiciFetch>[1]) => ReturnType<typeof undiciFetch>;

/** fetch that trusts only `ca` (or, without one, speaks plain HTTP like any fetch). */
export function trustingFetch(t: ExecutionContext, ca: string | undefined): Fetch {
  const agent = new Agent({ connect: ca ? { ca } : {} });
  t.teardown(() => agent.close());
  return (url, init) => undiciFetch(url, { ...init, dispatcher: agent });
}

/** Fetches `/ca.pem` without trusting anything yet, and accepts it only if its fingerprint is `pinned`. */
export async function pinnedCa(baseUrl: string, pinned: string): Promise<string> {
  const pem = await new Promise<string>((resolve, reject) => {
    const req = https.get(`${baseUrl}/ca.pem`, { rejectUnauthorized: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString('utf8')));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
  });
  const fingerprint = new crypto.X509Certificate(pem).fingerprint256;
  if (fingerprint !== pinned) throw new Error(`the CA's fingerprint ${fingerprint} is not the pinned ${pinned}`);
  return pem;
}

/** The certificate a new connection to `port` is served (not verified: the caller checks it). */
export function servedCertificate(port: number, options: tls.ConnectionOptions = {}): Promise<crypto.X509Certificate> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false, ...options }, () => {
      const cert = socket.getPeerX509Certificate();
      socket.end();
      if (cert) resolve(cert);
      else reject(new Error('no certificate was served'));
    });
    socket.on('error', reject);
  });
}

/** Runs `openssl` without blocking this process (whose event loop may be serving the other end). */
export function openssl(args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = execFile('openssl', args, { timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, output: `${stdout}\n${stderr}` });
    });
    child.stdin?.end();
  });
}
