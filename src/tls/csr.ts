/**
 * The corporate-CA flow. `modelshare certs csr` makes a key (sealed in the database, never written
 * out) and a certificate signing request; the corporate CA signs it; `modelshare certs import CERT`
 * checks the signed chain against that key and installs it; the server serves it in `csr` mode.
 */
import crypto from 'node:crypto';
import { open, seal } from '../crypto/sealed.ts';
import { CertificateProblem, checkServable, type ServedCertificate } from './certificate.ts';
import { certificateRequest, type SubjectNames } from './forge.ts';
import { generateRsaKeyPair, keyPairFromDer, serverKeyBits } from './keypair.ts';
import { filesWarnWithinMs } from './files.ts';
import { TlsError, type CertificateProvider, type TlsContext } from './provider.ts';
import { certificateKeyPlace, type CertificateRow } from './repo.ts';

/** Makes a new key and request for `names`; a request made earlier and not imported is replaced. */
export async function createRequest(ctx: TlsContext, names: SubjectNames): Promise<string> {
  const key = await generateRsaKeyPair(serverKeyBits);
  const request = certificateRequest({ keyPem: key.privateKeyPem, publicKeyPem: key.publicKeyPem, names });
  const id = crypto.randomBytes(16).toString('hex');
  ctx.repo.replace({
    id,
    slot: 'csr-pending',
    key_sealed: seal(ctx.keys, ctx.keys.current('tls'), certificateKeyPlace(id), key.privateKeyDer),
    request,
    chain: null,
    names: JSON.stringify(names),
    not_after: null,
    created_at: ctx.clock.now().toISOString(),
  });
  return request;
}

function keyPemOf(ctx: TlsContext, row: CertificateRow): string {
  return keyPairFromDer(open(ctx.keys, certificateKeyPlace(row.id), row.key_sealed)).privateKeyPem;
}

/**
 * Installs a signed chain (server certificate first) for the pending request's key, or for the key
 * already in use (a renewal the CA signed from the same request). Throws a CertificateProblem that
 * says what is wrong: no request, not this key, expired, chain out of order.
 */
export function importChain(ctx: TlsContext, chainPem: string, file: string): ServedCertificate {
  const candidates = [ctx.repo.certificate('csr-pending'), ctx.repo.certificate('csr')].filter((r): r is CertificateRow => r !== undefined);
  if (candidates.length === 0) throw new CertificateProblem('there is no certificate request: run `modelshare certs csr` first');
  for (const row of candidates) {
    try {
      const served = checkServable(chainPem, keyPemOf(ctx, row), ctx.clock.now(), { chain: file, key: 'the key of the certificate request' });
      ctx.repo.install(row.id, served.chainPem, served.info.notAfter.toISOString());
      return served;
    } catch (error) {
      if (!(error instanceof CertificateProblem)) throw error;
      // A key mismatch may just mean the other candidate's key; any other problem is about this chain.
      if (!/does not match/.test(error.message)) throw error;
    }
  }
  throw new CertificateProblem(
    `the certificate in ${file} does not match the key of the certificate request (it was issued for another key); ` +
      'sign the request that `modelshare certs csr` wrote',
  );
}

/** The imported certificate, as the server serves it in csr mode. */
export function loadImported(ctx: TlsContext): ServedCertificate | undefined {
  const row = ctx.repo.certificate('csr');
  if (!row?.chain) return undefined;
  return checkServable(row.chain, keyPemOf(ctx, row), ctx.clock.now(), { chain: 'the imported certificate', key: 'its key' });
}

export function csrProvider(ctx: TlsContext): CertificateProvider {
  return {
    async initial() {
      const served = loadImported(ctx);
      if (!served) {
        throw new TlsError(
          'tls.mode is csr, but no certificate has been imported: run `modelshare certs csr`, have the request signed ' +
            'by your CA, then `modelshare certs import CERT`',
        );
      }
      return served;
    },
    // Picks up a certificate `certs import` installed while the server runs.
    async refresh(current) {
      let next: ServedCertificate | undefined;
      try {
        next = loadImported(ctx);
      } catch (error) {
        if (!(error instanceof CertificateProblem)) throw error;
        ctx.log.error({ problem: error.message }, 'the imported certificate cannot be used; still serving the previous one');
        return { outcome: `kept the previous certificate: ${error.message}` };
      }
      if (!next || next.chainPem === current.chainPem) return { outcome: 'unchanged' };
      ctx.log.info({ names: next.info.names, serial: next.info.serial, not_after: next.info.notAfter.toISOString() }, 'serving the newly imported certificate');
      return { next, outcome: 'reloaded' };
    },
    warnWithinMs: () => filesWarnWithinMs,
    close() {},
  };
}
