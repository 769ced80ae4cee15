/** `GET /ca.pem`: the internal CA's certificate, for clients to trust (managed mode only). */
import { AppError } from '../errors.ts';
import { access, route, type AnyRoute } from '../http/route-table.ts';
import type { TlsService } from './service.ts';

export function tlsRoutes(tls: TlsService | undefined): AnyRoute[] {
  return [
    // Public on purpose: a CA certificate is not a secret. Clients check it against the fingerprint the
    // server prints at start (and `modelshare certs show`) before they trust it.
    route({
      method: 'GET', path: '/ca.pem', summary: "The internal CA's certificate (managed TLS)", access: access.public,
      handler: (_input, ctx) => {
        if (!tls?.authority) throw new AppError('not_found', 'This server does not run its own certificate authority (tls.mode is not managed)');
        ctx.type = 'application/x-pem-file';
        ctx.set('Content-Disposition', 'inline; filename="modelshare-ca.pem"');
        ctx.body = tls.authority.certificatePem;
      },
    }),
  ];
}
