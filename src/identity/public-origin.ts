/**
 * Browser sign-in happens at public_url. The login cookie that binds a sign-in to its browser is
 * set on the address the browser used, and the provider sends the browser back to public_url; a
 * sign-in started at another address the certificate covers (https://127.0.0.1:8443 when
 * public_url is https://localhost:8443) would come back without the cookie. So a browser that asks
 * to sign in at another address is first sent to the same path at public_url.
 */

/** The same request at public_url when `requestOrigin` is another origin; undefined when it is public_url's. */
export function publicUrlFor(requestOrigin: string, originalUrl: string, publicUrl: string): string | undefined {
  // Both through URL, so that case and a default port (:443) compare equal.
  if (URL.canParse(requestOrigin) && new URL(requestOrigin).origin === new URL(publicUrl).origin) return undefined;
  return `${publicUrl}${originalUrl}`;
}
