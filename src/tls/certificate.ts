/**
 * Reading certificates with node:crypto: what a PEM chain says (names, validity, fingerprint) and
 * whether a chain and a key belong together. Used for every mode, so the files an admin supplies and
 * the certificates the server makes are checked the same way.
 */
import crypto from 'node:crypto';

/** What the status page, the logs and `certs show` say about a certificate. */
export interface CertificateInfo {
  subject: string;
  issuer: string;
  /** DNS names and IP addresses from subjectAltName. */
  names: string[];
  serial: string;
  notBefore: Date;
  notAfter: Date;
  /** SHA-256 of the DER, colon hex, as `openssl x509 -fingerprint -sha256` prints it. */
  fingerprint: string;
}

/** A key and chain ready to serve, with what the leaf says. */
export interface ServedCertificate {
  keyPem: string;
  /** PEM, server certificate first, then intermediates. */
  chainPem: string;
  info: CertificateInfo;
}

/** Why a certificate or key cannot be used; the message says which. */
export class CertificateProblem extends Error {
  override name = 'CertificateProblem';
}

const pemBlock = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The certificates of a PEM chain, in order; throws when there is none or one does not parse. */
export function parseChain(pem: string, what: string): crypto.X509Certificate[] {
  const blocks = pem.match(pemBlock) ?? [];
  if (blocks.length === 0) throw new CertificateProblem(`${what} holds no PEM certificate`);
  return blocks.map((block, i) => {
    try {
      return new crypto.X509Certificate(block);
    } catch {
      throw new CertificateProblem(`certificate ${i + 1} in ${what} is not a valid X.509 certificate`);
    }
  });
}

/** Reads a PEM private key; throws a CertificateProblem naming `what` when it is not one. */
export function parsePrivateKey(pem: string, what: string): crypto.KeyObject {
  try {
    return crypto.createPrivateKey(pem);
  } catch {
    throw new CertificateProblem(`${what} is not a PEM private key (an encrypted key is not supported)`);
  }
}

export function describeCertificate(cert: crypto.X509Certificate): CertificateInfo {
  const names = (cert.subjectAltName ?? '')
    .split(', ')
    .map((entry) => /^(?:DNS|IP Address):(.+)$/.exec(entry)?.[1])
    .filter((n): n is string => n !== undefined);
  return {
    subject: cert.subject.replaceAll('\n', ', '),
    issuer: cert.issuer.replaceAll('\n', ', '),
    names,
    serial: cert.serialNumber,
    notBefore: new Date(cert.validFrom),
    notAfter: new Date(cert.validTo),
    fingerprint: cert.fingerprint256,
  };
}

/**
 * Checks that a chain and a key can be served at `now`: the key is the server certificate's, the
 * certificate is within its validity, and each certificate is signed by the next one in the chain.
 * Returns what is served, or throws a CertificateProblem that says which of these failed.
 */
export function checkServable(chainPem: string, keyPem: string, now: Date, names: { chain: string; key: string }): ServedCertificate {
  const chain = parseChain(chainPem, names.chain);
  const key = parsePrivateKey(keyPem, names.key);
  const leaf = chain[0]!;
  if (!leaf.checkPrivateKey(key)) {
    throw new CertificateProblem(`the key in ${names.key} does not match the certificate in ${names.chain} (they are not a pair)`);
  }
  const info = describeCertificate(leaf);
  if (info.notAfter.getTime() <= now.getTime()) {
    throw new CertificateProblem(`the certificate in ${names.chain} expired on ${info.notAfter.toISOString()}`);
  }
  if (info.notBefore.getTime() > now.getTime()) {
    throw new CertificateProblem(`the certificate in ${names.chain} is not valid before ${info.notBefore.toISOString()}`);
  }
  for (let i = 0; i + 1 < chain.length; i++) {
    if (!chain[i]!.checkIssued(chain[i + 1]!) || !chain[i]!.verify(chain[i + 1]!.publicKey)) {
      throw new CertificateProblem(`certificate ${i + 1} in ${names.chain} is not signed by certificate ${i + 2}: put the chain in order, server certificate first`);
    }
  }
  // Re-encoded from the parsed key, so what is served is exactly what was checked.
  return { keyPem: key.export({ type: 'pkcs8', format: 'pem' }) as string, chainPem: chain.map((c) => c.toString()).join(''), info };
}
