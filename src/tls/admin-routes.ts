/**
 * `GET /api/v1/admin/certificates` (server admins): what `modelshare certs show` prints, as JSON:
 * the TLS mode, the internal CA and its fingerprint (managed mode), the certificate being served with
 * its names, serial and expiry, when it renews, and a certificate request waiting for the corporate CA.
 */
import type { Db } from '../db/open.ts';
import { access, route, type AnyRoute } from '../http/route-table.ts';
import { serverAdminGate } from '../orgs/gates.ts';
import type { OrganizationsService } from '../orgs/service.ts';
import { describeCertificate, parseChain } from './certificate.ts';
import { TlsRepo } from './repo.ts';
import type { TlsService } from './service.ts';

export function tlsAdminRoutes(tls: TlsService | undefined, db: Db, orgs: OrganizationsService): AnyRoute[] {
  const repo = new TlsRepo(db);
  return [
    route({
      method: 'GET', path: '/api/v1/admin/certificates', summary: 'The TLS mode, internal CA and served certificate, as `modelshare certs show` (server admins)', access: access.token('admin'), gate: serverAdminGate(orgs),
      handler: () => {
        if (!tls) return { mode: 'off', certificate_authority: null, certificate: null, pending_request: null };
        const status = tls.status();
        const authority = tls.authority ? describeCertificate(parseChain(tls.authority.certificatePem, 'the CA')[0]!) : undefined;
        const pending = repo.certificate('csr-pending');
        return {
          mode: status.mode,
          certificate_authority: authority
            ? { subject: authority.subject, fingerprint: tls.authority!.fingerprint, not_after: authority.notAfter.toISOString(), download: '/ca.pem' }
            : null,
          certificate: {
            names: status.names,
            serial: status.serial,
            not_after: status.not_after,
            days_left: status.days_left,
            renew_at: status.renew_at,
            warning: status.warning,
          },
          pending_request: pending ? { created_at: pending.created_at } : null,
        };
      },
    }),
  ];
}
