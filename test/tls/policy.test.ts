/**
 * The TLS policy and the plain-HTTP edges: TLS 1.2 is the minimum, the redirect listener only
 * redirects, and tls.mode off serves plain HTTP that trusts a reverse proxy only when told to.
 */
import test from 'ava';
import { createLogger } from '../../src/log.ts';
import { listenRedirect } from '../../src/tls/redirect.ts';
import { openssl } from '../helpers/https.ts';
import { logCollector, startServer } from '../helpers/server.ts';
import { trustingFetch } from '../helpers/https.ts';
import { eventually } from '../helpers/eventually.ts';

test('TLS 1.1 and 1.0 handshakes are refused; TLS 1.2 and 1.3 are accepted', async (t) => {
  const server = await startServer(t);
  const connect = ['s_client', '-connect', `127.0.0.1:${server.port}`, '-servername', 'localhost'];
  // SECLEVEL=0 lets this client offer the old protocols, so the refusal is the server's.
  for (const old of ['-tls1_1', '-tls1']) {
    const result = await openssl([...connect, old, '-cipher', 'DEFAULT@SECLEVEL=0']);
    t.not(result.code, 0, old);
    t.regex(result.output, /alert protocol version|unsupported protocol/, old);
    t.notRegex(result.output, /no protocols available/, `${old}: the client must have offered it`);
  }
  for (const modern of ['-tls1_2', '-tls1_3']) {
    const result = await openssl([...connect, modern, '-brief']);
    t.is(result.code, 0, `${modern}: ${result.output}`);
  }
  // Only forward-secret AEAD suites: a static-RSA or CBC suite finds nothing to agree on.
  t.not((await openssl([...connect, '-tls1_2', '-cipher', 'AES128-SHA256:AES256-SHA:AES128-GCM-SHA256'])).code, 0);
});

test('the redirect listener answers every request with a redirect to public_url, and nothing else', async (t) => {
  const redirect = await listenRedirect({ host: '127.0.0.1', port: 0, publicUrl: 'https://models.example.internal:8443' }, createLogger('info', logCollector().stream));
  t.teardown(() => redirect.close());
  const fetch = trustingFetch(t, undefined);
  for (const [path, to] of [
    ['/api/v1/models?limit=5', 'https://models.example.internal:8443/api/v1/models?limit=5'],
    ['/', 'https://models.example.internal:8443/'],
  ] as const) {
    const res = await fetch(`http://127.0.0.1:${redirect.port}${path}`, { redirect: 'manual', headers: { Host: 'evil.example' } });
    t.is(res.status, 308);
    t.is(res.headers.get('location'), to);
  }
  const post = await fetch(`http://127.0.0.1:${redirect.port}/auth/token`, { method: 'POST', body: 'x', redirect: 'manual' });
  t.is(post.status, 308);
});

test('tls.mode off serves plain HTTP: no HSTS and no /ca.pem', async (t) => {
  const server = await startServer(t, { MODELSHARE_TLS_MODE: 'off' });
  t.regex(server.url, /^http:/);
  const res = await server.fetch(`${server.url}/healthz`, { headers: { 'X-Forwarded-Proto': 'https' } });
  t.is(res.status, 200);
  t.is(res.headers.get('strict-transport-security'), null);
  const ca = await server.fetch(`${server.url}/ca.pem`);
  t.is(ca.status, 404);
  t.like(await ca.json(), { code: 'not_found', detail: 'This server does not run its own certificate authority (tls.mode is not managed)' });
  const ready = await server.fetch(`${server.url}/readyz`);
  t.deepEqual(((await ready.json()) as { checks: object }).checks, { database: 'ok', storage: 'ok', blob_storage: 'ok', blob_integrity: 'ok' });
});

test('behind a reverse proxy, server.trust_proxy takes the client address and scheme from X-Forwarded-*', async (t) => {
  const headers = { 'X-Forwarded-Proto': 'https', 'X-Forwarded-For': '203.0.113.7' };
  const direct = await startServer(t, { MODELSHARE_TLS_MODE: 'off' });
  await (await direct.fetch(`${direct.url}/healthz`, { headers })).text();
  const proxied = await startServer(t, { MODELSHARE_TLS_MODE: 'off', MODELSHARE_SERVER_TRUST_PROXY: 'true' });
  const res = await proxied.fetch(`${proxied.url}/healthz`, { headers });
  t.is(res.headers.get('strict-transport-security'), 'max-age=31536000');
  await eventually(() => proxied.logs.some((l) => l['msg'] === 'request') && direct.logs.some((l) => l['msg'] === 'request'), 'the access log lines');
  t.is(proxied.logs.find((l) => l['msg'] === 'request')!['remote'], '203.0.113.7');
  t.not(direct.logs.find((l) => l['msg'] === 'request')!['remote'], '203.0.113.7');
});
