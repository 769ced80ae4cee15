/**
 * Certificates for tests of files and csr modes: a throwaway "corporate" CA and server certificates
 * it signs, with any validity (expired, expiring), made with the server's own forge and keypair code.
 */
import fs from 'node:fs';
import path from 'node:path';
import { issueServerCertificate, selfSignedAuthority, type SubjectNames } from '../../src/tls/forge.ts';
import { generateRsaKeyPair, type KeyPair } from '../../src/tls/keypair.ts';

const day = 86_400_000;

export interface TestCa {
  certificatePem: string;
  key: KeyPair;
}

export async function testCa(): Promise<TestCa> {
  const key = await generateRsaKeyPair(2048);
  const now = Date.now();
  const certificatePem = selfSignedAuthority({
    keyPem: key.privateKeyPem,
    publicKeyPem: key.publicKeyPem,
    commonName: 'Test Corporate CA',
    validity: { notBefore: new Date(now - 400 * day), notAfter: new Date(now + 400 * day) },
    // The names the tests' leaf certificates are for.
    names: { dns: ['localhost', 'example.com', 'example.net', 'example.org', 'test'], ips: ['127.0.0.1', '::1'] },
  });
  return { certificatePem, key };
}

/** A server certificate and its key, valid from `fromDays` to `toDays` relative to now. */
export async function testLeaf(
  ca: TestCa,
  options: { fromDays?: number; toDays?: number; names?: SubjectNames } = {},
): Promise<{ certPem: string; keyPem: string }> {
  const key = await generateRsaKeyPair(2048);
  const now = Date.now();
  const certPem = issueServerCertificate({
    caCertificatePem: ca.certificatePem,
    caKeyPem: ca.key.privateKeyPem,
    publicKeyPem: key.publicKeyPem,
    names: options.names ?? { dns: ['localhost'], ips: ['127.0.0.1'] },
    validity: { notBefore: new Date(now + (options.fromDays ?? -1) * day), notAfter: new Date(now + (options.toDays ?? 90) * day) },
  });
  return { certPem, keyPem: key.privateKeyPem };
}

/** Writes a pair where files mode reads it; returns the paths. */
export function writePair(dir: string, pair: { certPem: string; keyPem: string }): { certFile: string; keyFile: string } {
  const certFile = path.join(dir, 'server.crt');
  const keyFile = path.join(dir, 'server.key');
  fs.writeFileSync(certFile, pair.certPem);
  fs.writeFileSync(keyFile, pair.keyPem, { mode: 0o600 });
  return { certFile, keyFile };
}
