/** `GET /ca.pem`: the internal CA's certificate, for clients to trust (managed mode only). */
import Router from '@koa/router';
import { AppError } from '../errors.ts';
import type { AppState } from '../http/state.ts';
import type { TlsService } from './service.ts';

export function tlsRouter(tls: TlsService | undefined) {
  const router = new Router<AppState>();
  // Public on purpose: a CA certificate is not a secret. Clients check it against the fingerprint the
  // server prints at start (and `modelshare certs show`) before they trust it.
  router.get('/ca.pem', (ctx) => {
    if (!tls?.authority) throw new AppError('not_found', 'This server does not run its own certificate authority (tls.mode is not managed)');
    ctx.type = 'application/x-pem-file';
    ctx.set('Content-Disposition', 'inline; filename="modelshare-ca.pem"');
    ctx.body = tls.authority.certificatePem;
  });
  return router;
}
