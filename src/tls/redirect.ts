/**
 * The optional plain-HTTP listener (tls.redirect_port): it answers every request with a redirect to
 * the same path under public_url and serves nothing else, so a browser that types http:// lands on
 * HTTPS, where HSTS then keeps it.
 */
import http from 'node:http';
import type { Log } from '../log.ts';
import { listenOn } from '../server.ts';

export interface RedirectListener {
  port: number;
  close(): Promise<void>;
}

export async function listenRedirect(options: { host: string; port: number; publicUrl: string }, log: Log): Promise<RedirectListener> {
  const server = http.createServer({ requestTimeout: 10_000, headersTimeout: 10_000 }, (req, res) => {
    // The target is built from public_url, never from the Host header, so it cannot send anyone elsewhere.
    const pathAndQuery = req.url?.startsWith('/') && !req.url.startsWith('//') ? req.url : '/';
    res.writeHead(308, { Location: `${options.publicUrl}${pathAndQuery}`, 'Content-Type': 'text/plain; charset=utf-8', Connection: 'close' });
    res.end('This server speaks HTTPS only.\n');
  });
  const port = await listenOn(server, options.port, options.host);
  log.info({ port, to: options.publicUrl }, 'plain HTTP listener redirects to HTTPS');
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
