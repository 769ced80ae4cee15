import https from 'node:https';
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { eventually } from '../helpers/eventually.ts';
import { startServer } from '../helpers/server.ts';

/** A raw request, for what fetch will not send (huge headers, odd methods), trusting the server's CA. */
function raw(url: string, ca: string | undefined, options: https.RequestOptions): Promise<{ status: number; headers: NodeJS.Dict<string | string[]>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { ...options, ca }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('GET /healthz answers while the process is alive', async (t) => {
  const server = await startServer(t);
  const res = await server.fetch(`${server.url}/healthz`);
  t.is(res.status, 200);
  const pkg = JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  t.deepEqual(await res.json(), { status: 'ok', version: pkg.version });
});

test('GET /readyz checks the database and the blob storage', async (t) => {
  const server = await startServer(t);
  const ok = await server.fetch(`${server.url}/readyz`);
  t.is(ok.status, 200);
  t.like(await ok.json(), { status: 'ready', checks: { database: 'ok', blob_storage: 'ok', tls: 'ok' } });

  fs.rmSync(path.join(server.dataDir, 'blobs'), { recursive: true });
  const failing = await server.fetch(`${server.url}/readyz`);
  t.is(failing.status, 503);
  t.is(failing.headers.get('content-type'), 'application/problem+json');
  const body = (await failing.json()) as Record<string, unknown>;
  t.is(body['code'], 'service_unavailable');
  t.deepEqual(body['checks'], { database: 'ok', storage: 'failing', blob_storage: 'failing', blob_integrity: 'ok', tls: 'ok' });
  t.false(JSON.stringify(body).includes(server.dataDir), 'no file path reaches the client');
});

test('an unknown route is a 404 problem document', async (t) => {
  const server = await startServer(t);
  const res = await server.fetch(`${server.url}/no/such/thing`);
  t.is(res.status, 404);
  t.is(res.headers.get('content-type'), 'application/problem+json');
  const body = (await res.json()) as Record<string, unknown>;
  t.like(body, { type: 'urn:modelshare:problem:not_found', status: 404, code: 'not_found', title: 'There is nothing here' });
  t.is(body['request_id'], res.headers.get('x-request-id'));
});

test('a wrong method is a 405 problem document with Allow', async (t) => {
  const server = await startServer(t);
  const res = await server.fetch(`${server.url}/healthz`, { method: 'DELETE' });
  t.is(res.status, 405);
  t.is(res.headers.get('allow'), 'HEAD, GET');
  t.like(await res.json(), { code: 'method_not_allowed', status: 405 });
});

test('an unknown method is a 405 problem document', async (t) => {
  const server = await startServer(t);
  const res = await raw(`${server.url}/healthz`, server.ca, { method: 'PROPFIND' });
  t.is(res.status, 405);
  t.like(JSON.parse(res.body), { code: 'method_not_allowed' });
});

test('huge headers get a 431 problem document', async (t) => {
  const server = await startServer(t);
  const res = await raw(`${server.url}/healthz`, server.ca, { headers: { 'X-Huge': 'a'.repeat(20_000) } });
  t.is(res.status, 431);
  t.is(res.headers['content-type'], 'application/problem+json');
  t.like(JSON.parse(res.body), { code: 'header_too_large', status: 431 });
});

test('a path trick is a plain 404', async (t) => {
  const server = await startServer(t);
  for (const p of ['/../../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/healthz/..%2f..%2fmaster.key', '/%00']) {
    const res = await raw(`${server.url}${p}`, server.ca, { method: 'GET' });
    t.true(res.status === 404 || res.status === 400, p);
    t.false(res.body.includes('root:'), p);
  }
});

test('every response carries the security headers and a request id', async (t) => {
  const server = await startServer(t);
  const res = await server.fetch(`${server.url}/healthz`);
  t.is(res.headers.get('x-content-type-options'), 'nosniff');
  t.is(res.headers.get('x-frame-options'), 'DENY');
  t.is(res.headers.get('referrer-policy'), 'no-referrer');
  t.regex(res.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
  t.is(res.headers.get('cache-control'), 'no-store');
  t.regex(res.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
});

test('a well-formed incoming request id is kept; a hostile one is replaced', async (t) => {
  const server = await startServer(t);
  const kept = await server.fetch(`${server.url}/healthz`, { headers: { 'X-Request-Id': 'client-abc_123' } });
  t.is(kept.headers.get('x-request-id'), 'client-abc_123');
  const replaced = await server.fetch(`${server.url}/healthz`, { headers: { 'X-Request-Id': '"><script>' } });
  t.regex(replaced.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
});

test('one access log line per request, with no query string or credentials', async (t) => {
  const server = await startServer(t);
  const res = await server.fetch(`${server.url}/api/v1/me?token=hunter2`, { headers: { Authorization: 'Bearer hunter2', Cookie: 'session=hunter2' } });
  await res.text();
  await eventually(() => server.logs.some((l) => l['msg'] === 'request'), 'the access log line');
  const lines = server.logs.filter((l) => l['msg'] === 'request');
  t.is(lines.length, 1);
  t.like(lines[0], { method: 'GET', path: '/api/v1/me', status: 401 });
  t.false(JSON.stringify(server.logs).includes('hunter2'));
});

test('passing health probes are logged at debug, everything else at info', async (t) => {
  const server = await startServer(t);
  for (const path of ['/healthz', '/readyz', '/api/v1/me']) await (await server.fetch(`${server.url}${path}`)).text();
  await eventually(() => server.logs.filter((l) => l['msg'] === 'request').length === 3, 'the access log lines');
  const level = (path: string) => server.logs.find((l) => l['msg'] === 'request' && l['path'] === path)?.['level'];
  t.is(level('/healthz'), 'debug');
  t.is(level('/readyz'), 'debug');
  t.is(level('/api/v1/me'), 'info');
});

test('public routes ignore credentials: a bogus Authorization header changes nothing', async (t) => {
  const server = await startServer(t);
  for (const path of ['/healthz', '/readyz', '/ca.pem']) {
    for (const authorization of ['Bearer bogus', 'Bearer ' + 'x'.repeat(600), 'Bearer', 'Basic Zm9vOmJhcg==']) {
      const res = await server.fetch(`${server.url}${path}`, { headers: { authorization, cookie: '__Host-ms_session=bogus' } });
      await res.arrayBuffer();
      t.is(res.status, 200, `${path} with ${authorization.slice(0, 20)}`);
    }
  }
});
