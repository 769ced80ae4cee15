/**
 * The X.509 documents the server makes, built with node-forge (the only file that imports it): the
 * internal CA's self-signed certificate, the server certificates it issues, and certificate signing
 * requests for a corporate CA. Keys come from node:crypto (keypair.ts) as PEM; forge signs with them.
 *
 * node-forge signs X.509 only with RSA keys, which is why the keys are RSA (see keypair.ts).
 */
import crypto from 'node:crypto';
import { createRequire } from 'node:module';
import type Forge from 'node-forge';

const require = createRequire(import.meta.url);
let loaded: typeof Forge | undefined;
/**
 * node-forge, loaded when first needed: a document to make (a CA on the first start, a renewal, a
 * CSR) or, in managed mode, the start's check of the CA's name constraints. A server in `file` or
 * `csr` mode reads its certificates with node:crypto and never loads it (about 10 MiB resident).
 */
const forgeLib = (): typeof Forge => (loaded ??= require('node-forge') as typeof Forge);

/** The DNS names and IP addresses a certificate is for (its subjectAltName). */
export interface SubjectNames {
  dns: string[];
  ips: string[];
}

export interface Validity {
  notBefore: Date;
  notAfter: Date;
}

/** A positive, non-zero 127-bit serial (RFC 5280 asks for at most 20 octets, unpredictable). */
function randomSerial(): string {
  const bytes = crypto.randomBytes(16);
  // The high bit clear keeps the DER INTEGER positive; bit 6 set keeps it minimal (no leading zero).
  bytes[0] = (bytes[0]! & 0x7f) | 0x40;
  return bytes.toString('hex');
}

function altNames(names: SubjectNames) {
  return [...names.dns.map((value) => ({ type: 2, value })), ...names.ips.map((ip) => ({ type: 7, ip }))];
}

function commonNameOf(names: SubjectNames): string {
  return names.dns[0] ?? names.ips[0] ?? 'modelshare';
}

/**
 * The DER of a critical nameConstraints extension value (RFC 5280 4.2.1.10) permitting only `names`:
 * each DNS name (and its subdomains; a wildcard stands for its parent) and each IP address exactly.
 * With no IP address configured, every IPv4 and IPv6 address is excluded; with no DNS name, only the
 * reserved name `invalid` is permitted. node-forge has no builder for this extension, so it is
 * encoded here with forge.asn1 (X.509 encoding, no cryptography). Deterministic for the same names.
 */
export function nameConstraintsDer(names: SubjectNames): Buffer {
  return Buffer.from(forgeLib().asn1.toDer(nameConstraintsAsn1(names)).getBytes(), 'binary');
}

function nameConstraintsAsn1(names: SubjectNames) {
  const forge = forgeLib();
  const { asn1 } = forge;
  const subtree = (tag: number, value: string) =>
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [asn1.create(asn1.Class.CONTEXT_SPECIFIC, tag, false, value)]);
  const dnsName = (name: string) => subtree(2, name.replace(/^\*\./, ''));
  const ipRange = (ip: string) => {
    const bytes = (forge.util as unknown as { bytesFromIP(ip: string): string | null }).bytesFromIP(ip);
    if (!bytes) throw new Error(`${ip} is not an IP address`);
    return subtree(7, bytes + '\xff'.repeat(bytes.length));
  };
  const dns = [...new Set(names.dns.map((d) => d.toLowerCase().replace(/^\*\./, '')))].sort();
  const ips = [...new Set(names.ips)].sort();
  const permitted = [...(dns.length > 0 ? dns : ['invalid']).map(dnsName), ...ips.map(ipRange)];
  const parts = [asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, permitted)];
  if (ips.length === 0) {
    const everything = (length: number) => subtree(7, '\x00'.repeat(length * 2));
    parts.push(asn1.create(asn1.Class.CONTEXT_SPECIFIC, 1, true, [everything(4), everything(16)]));
  }
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, parts);
}

/**
 * A self-signed CA certificate that may sign server certificates and nothing below them, for the
 * configured names only: customers install it as a trust anchor, so a stolen CA key must not be able
 * to vouch for any other site (critical nameConstraints).
 */
export function selfSignedAuthority(options: { keyPem: string; publicKeyPem: string; commonName: string; validity: Validity; names: SubjectNames }): string {
  const forge = forgeLib();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(options.publicKeyPem);
  cert.serialNumber = randomSerial();
  cert.validity.notBefore = options.validity.notBefore;
  cert.validity.notAfter = options.validity.notAfter;
  const subject = [
    { name: 'commonName', value: options.commonName },
    { name: 'organizationName', value: 'Modelshare' },
  ];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    // pathLen 0: the CA signs leaf certificates only, never another CA.
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { id: '2.5.29.30', name: 'nameConstraints', critical: true, value: nameConstraintsAsn1(options.names) },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(options.keyPem), forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

/** A TLS server certificate for `names`, signed by the CA. */
export function issueServerCertificate(options: {
  caCertificatePem: string;
  caKeyPem: string;
  publicKeyPem: string;
  names: SubjectNames;
  validity: Validity;
}): string {
  const forge = forgeLib();
  const ca = forge.pki.certificateFromPem(options.caCertificatePem);
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(options.publicKeyPem);
  cert.serialNumber = randomSerial();
  cert.validity.notBefore = options.validity.notBefore;
  cert.validity.notAfter = options.validity.notAfter;
  cert.setSubject([{ name: 'commonName', value: commonNameOf(options.names) }]);
  cert.setIssuer(ca.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    // Clients match names only against subjectAltName (RFC 6125), never the common name.
    { name: 'subjectAltName', altNames: altNames(options.names) },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: ca.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(options.caKeyPem), forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

/** A PKCS#10 request for a server certificate for `names`, signed by the key it is for. */
export function certificateRequest(options: { keyPem: string; publicKeyPem: string; names: SubjectNames }): string {
  const forge = forgeLib();
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = forge.pki.publicKeyFromPem(options.publicKeyPem);
  csr.setSubject([{ name: 'commonName', value: commonNameOf(options.names) }]);
  csr.setAttributes([
    {
      name: 'extensionRequest',
      extensions: [
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
        { name: 'extKeyUsage', serverAuth: true },
        { name: 'subjectAltName', altNames: altNames(options.names) },
      ],
    },
  ]);
  csr.sign(forge.pki.privateKeyFromPem(options.keyPem), forge.md.sha256.create());
  return forge.pki.certificationRequestToPem(csr);
}
