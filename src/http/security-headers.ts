/**
 * Headers every response carries; HSTS only over HTTPS: when the server itself speaks it, or when a
 * trusted reverse proxy says the client used it (ctx.secure reads X-Forwarded-Proto only then).
 */
import type { Context, Next } from 'koa';

export function securityHeaders(options: { https: boolean }) {
  return async (ctx: Context, next: Next) => {
    ctx.set({
      'X-Content-Type-Options': 'nosniff',
      'X-Frame-Options': 'DENY',
      'Referrer-Policy': 'no-referrer',
      'Content-Security-Policy': "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Resource-Policy': 'same-origin',
      'Cache-Control': 'no-store',
    });
    if (options.https || ctx.secure) ctx.set('Strict-Transport-Security', 'max-age=31536000');
    await next();
  };
}
