/**
 * Trusting a Modelshare server the first time: its CA certificate (`/ca.pem`) is fetched without
 * verification, and trusted only if its SHA-256 fingerprint is the one the operator published (the
 * server logs it at start; `modelshare certs show` prints it). From then on every connection is
 * verified against that CA alone, like SSH's known_hosts.
 */
import crypto from 'node:crypto';
import https from 'node:https';

/** `AB:CD:…` upper case, whatever way the fingerprint was typed (colons, spaces, lower case). */
export function normalizeFingerprint(typed: string): string {
  const hex = typed.replace(/^sha-?256[:=]?/i, '').replace(/[^0-9a-fA-F]/g, '').toUpperCase();
  if (hex.length !== 64) throw new Error(`"${typed}" is not a SHA-256 fingerprint (64 hex digits)`);
  return hex.match(/../g)!.join(':');
}

export interface ServerCa {
  pem: string;
  fingerprint: string;
}

/** Downloads the server's CA certificate without trusting anything yet; the caller decides by its fingerprint. */
export function fetchServerCa(server: string): Promise<ServerCa> {
  return new Promise((resolve, reject) => {
    const req = https.get(new URL('/ca.pem', server), { rejectUnauthorized: false, timeout: 30_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
        if (body.length > 64 * 1024) req.destroy(new Error('the server sent something too large for a CA certificate'));
      });
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`the server has no CA of its own to trust (/ca.pem answered ${res.statusCode}); is its TLS mode managed?`));
        try {
          const cert = new crypto.X509Certificate(body);
          if (!cert.ca) return reject(new Error('the certificate at /ca.pem is not a CA certificate'));
          resolve({ pem: body, fingerprint: cert.fingerprint256 });
        } catch {
          reject(new Error('the server sent no valid certificate at /ca.pem'));
        }
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('the server did not answer in 30 s')));
    req.on('error', reject);
  });
}

/** Whether `pem` has the fingerprint `expected` (compared in constant time). */
export function hasFingerprint(ca: ServerCa, expected: string): boolean {
  const a = Buffer.from(normalizeFingerprint(ca.fingerprint));
  const b = Buffer.from(normalizeFingerprint(expected));
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}
