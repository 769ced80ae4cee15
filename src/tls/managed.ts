/**
 * Managed mode: an internal CA, made on first start, issues the server certificate for the configured
 * names and renews it when a set share of its lifetime has passed. The CA key and the server key are
 * sealed in the database under the 'tls' data key; they are in plaintext only in memory.
 */
import crypto from 'node:crypto';
import { open, seal } from '../crypto/sealed.ts';
import { checkServable, type ServedCertificate } from './certificate.ts';
import { issueServerCertificate, nameConstraintsDer, selfSignedAuthority, type SubjectNames } from './forge.ts';
import { caKeyBits, generateRsaKeyPair, keyPairFromDer, serverKeyBits } from './keypair.ts';
import { dayMs, type CertificateProvider, type TlsContext } from './provider.ts';
import { authorityKeyPlace, certificateKeyPlace, type CertificateRow } from './repo.ts';

/** The CA lives ten years; its certificate is what clients install, so it should rarely change. */
const caLifetimeMs = 3650 * dayMs;
/** New certificates start an hour back, so a client whose clock is a little behind accepts them. */
const backdateMs = 3_600_000;

export interface Authority {
  id: string;
  certificatePem: string;
  keyPem: string;
  /** SHA-256 of the CA certificate, colon hex: what clients pin. */
  fingerprint: string;
}

export interface ManagedOptions {
  names: SubjectNames;
  lifetimeMs: number;
  renewAtPercent: number;
}

/** Whether the CA certificate is constrained to exactly these names. */
export function constrainedTo(certificatePem: string, names: SubjectNames): boolean {
  return Buffer.from(new crypto.X509Certificate(certificatePem).raw).includes(nameConstraintsDer(names));
}

/**
 * The internal CA, created (and logged) the first time, its certificate constrained to `names`. A CA
 * made before name constraints, or for other names, gets a new certificate for the same key and
 * subject: certificates it issued still chain to the copies clients already trust, and the new
 * ca.pem (a new fingerprint, logged) limits what the key can vouch for.
 */
export async function loadOrCreateAuthority(ctx: TlsContext, names: SubjectNames): Promise<Authority> {
  const existing = ctx.repo.authority();
  if (existing) {
    const der = open(ctx.keys, authorityKeyPlace(existing.id), existing.key_sealed);
    const pair = keyPairFromDer(der);
    if (constrainedTo(existing.certificate, names)) {
      return { id: existing.id, certificatePem: existing.certificate, keyPem: pair.privateKeyPem, fingerprint: existing.fingerprint };
    }
    const old = new crypto.X509Certificate(existing.certificate);
    const certificatePem = selfSignedAuthority({
      keyPem: pair.privateKeyPem,
      publicKeyPem: pair.publicKeyPem,
      commonName: old.subject.match(/CN=([^\n]*)/)?.[1] ?? `Modelshare internal CA ${existing.id.slice(0, 8)}`,
      validity: { notBefore: new Date(ctx.clock.now().getTime() - backdateMs), notAfter: new Date(old.validTo) },
      names,
    });
    const fingerprint = new crypto.X509Certificate(certificatePem).fingerprint256;
    ctx.repo.recertifyAuthority(existing.id, certificatePem, fingerprint);
    ctx.log.warn(
      { ca_fingerprint: fingerprint, previous_fingerprint: existing.fingerprint, names },
      'the internal CA has a new certificate, constrained to the configured names: clients that install or pin ca.pem should take the new one',
    );
    return { id: existing.id, certificatePem, keyPem: pair.privateKeyPem, fingerprint };
  }
  const key = await generateRsaKeyPair(caKeyBits);
  const now = ctx.clock.now().getTime();
  const id = crypto.randomBytes(16).toString('hex');
  const certificatePem = selfSignedAuthority({
    keyPem: key.privateKeyPem,
    publicKeyPem: key.publicKeyPem,
    // A distinct name per installation, so an admin can tell two servers' CAs apart in a trust store.
    commonName: `Modelshare internal CA ${id.slice(0, 8)}`,
    validity: { notBefore: new Date(now - backdateMs), notAfter: new Date(now + caLifetimeMs) },
    names,
  });
  const fingerprint = new crypto.X509Certificate(certificatePem).fingerprint256;
  const stored = ctx.repo.insertAuthority({
    id,
    certificate: certificatePem,
    key_sealed: seal(ctx.keys, ctx.keys.current('tls'), authorityKeyPlace(id), key.privateKeyDer),
    fingerprint,
    created_at: new Date(now).toISOString(),
  });
  if (stored.id !== id) return loadOrCreateAuthority(ctx, names);
  ctx.log.info({ ca_fingerprint: fingerprint }, 'created the internal certificate authority');
  return { id, certificatePem, keyPem: key.privateKeyPem, fingerprint };
}

/** When the certificate is due for renewal: after `percent` of its own lifetime. */
export function renewalPoint(cert: ServedCertificate, percent: number): Date {
  const { notBefore, notAfter } = cert.info;
  return new Date(notBefore.getTime() + ((notAfter.getTime() - notBefore.getTime()) * percent) / 100);
}

function sameNames(stored: string, wanted: SubjectNames): boolean {
  const norm = (n: SubjectNames) => JSON.stringify([[...n.dns].sort(), [...n.ips].sort()]);
  try {
    return norm(JSON.parse(stored) as SubjectNames) === norm(wanted);
  } catch {
    return false;
  }
}

export function managedProvider(ctx: TlsContext, authority: Authority, options: ManagedOptions): CertificateProvider {
  const place = { chain: 'the managed certificate', key: 'the managed key' };
  const caCert = new crypto.X509Certificate(authority.certificatePem);

  const issue = async (reason: string): Promise<ServedCertificate> => {
    const key = await generateRsaKeyPair(serverKeyBits);
    const now = ctx.clock.now();
    // Never past the CA's own expiry: a client would reject the chain from then on anyway.
    const notAfter = new Date(Math.min(now.getTime() + options.lifetimeMs, new Date(caCert.validTo).getTime()));
    const chainPem = issueServerCertificate({
      caCertificatePem: authority.certificatePem,
      caKeyPem: authority.keyPem,
      publicKeyPem: key.publicKeyPem,
      names: options.names,
      validity: { notBefore: new Date(now.getTime() - backdateMs), notAfter },
    });
    const served = checkServable(chainPem, key.privateKeyPem, now, place);
    const id = crypto.randomBytes(16).toString('hex');
    const row: CertificateRow = {
      id,
      slot: 'managed',
      key_sealed: seal(ctx.keys, ctx.keys.current('tls'), certificateKeyPlace(id), key.privateKeyDer),
      request: null,
      chain: chainPem,
      names: JSON.stringify(options.names),
      not_after: notAfter.toISOString(),
      created_at: now.toISOString(),
    };
    ctx.repo.replace(row);
    ctx.log.info({ reason, names: served.info.names, serial: served.info.serial, not_after: notAfter.toISOString() }, 'issued a new server certificate');
    return served;
  };

  /** The stored certificate if it can still be served as it is, else why not. */
  const stored = (): ServedCertificate | string => {
    const row = ctx.repo.certificate('managed');
    if (!row?.chain) return 'first certificate';
    if (!sameNames(row.names, options.names)) return 'the configured names changed';
    let served: ServedCertificate;
    try {
      const der = open(ctx.keys, certificateKeyPlace(row.id), row.key_sealed);
      served = checkServable(row.chain, keyPairFromDer(der).privateKeyPem, ctx.clock.now(), place);
    } catch (error) {
      return (error as Error).message;
    }
    const leaf = new crypto.X509Certificate(row.chain);
    if (!leaf.checkIssued(caCert) || !leaf.verify(caCert.publicKey)) return 'it was not issued by the current CA';
    if (ctx.clock.now() >= renewalPoint(served, options.renewAtPercent)) return 'due for renewal';
    return served;
  };

  return {
    async initial() {
      const found = stored();
      return typeof found === 'string' ? issue(found) : found;
    },
    async refresh(current) {
      const due = renewalPoint(current, options.renewAtPercent);
      if (ctx.clock.now() < due) return { outcome: `not due until ${due.toISOString()}` };
      return { next: await issue('due for renewal'), outcome: 'renewed' };
    },
    renewAt: (current) => renewalPoint(current, options.renewAtPercent),
    // A managed certificate is renewed well before it expires; it warns once half of the time left
    // at the renewal point has passed without a renewal (the job is failing).
    warnWithinMs(current) {
      const { notBefore, notAfter } = current.info;
      return ((notAfter.getTime() - notBefore.getTime()) * (100 - options.renewAtPercent)) / 200;
    },
    close() {},
  };
}
