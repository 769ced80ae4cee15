/**
 * The holes an outside review found, each closed: a chunked body past the limit without signing in,
 * a read-only or break-glass token approving a device login, a token minting a wider one, floods of
 * sign-in calls and bad tokens, and the member list.
 */
import tls from 'node:tls';
import test from 'ava';
import { orgWorld, people } from '../helpers/orgs.ts';
import { poll, signIn, signInWorld } from '../helpers/sign-in.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

/** Sends a chunked body of `chunks` MiB and reports the status line and whether the server closed the connection. */
function chunkedFlood(server: TestServer, path: string, type: string, chunks: number): Promise<{ status: number; closed: boolean; head: string }> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port: server.port, ca: server.ca, servername: 'localhost' });
    let received = '';
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
    socket.on('close', () => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(received)?.[1] ?? 0);
      resolve({ status, closed: true, head: received.slice(0, received.indexOf('\r\n\r\n')) });
    });
    socket.on('secureConnect', async () => {
      socket.write(`POST ${path} HTTP/1.1\r\nhost: localhost\r\ncontent-type: ${type}\r\ntransfer-encoding: chunked\r\n\r\n`);
      const mib = Buffer.alloc(1024 * 1024, 0x20);
      for (let i = 0; i < chunks && !socket.destroyed && received === ''; i++) {
        if (!socket.write(Buffer.concat([Buffer.from(`${mib.length.toString(16)}\r\n`), mib, Buffer.from('\r\n')]))) await new Promise((r) => socket.once('drain', r));
      }
    });
    setTimeout(() => reject(new Error('no answer')), 60_000).unref();
  });
}

test('hole 1: a chunked body past the JSON limit, without signing in, gets 413 and a closed connection; the server serves on', async (t) => {
  const server = await startServer(t);
  for (const [path, type] of [['/auth/device', 'application/json'], ['/auth/token', 'application/x-www-form-urlencoded'], ['/api/v1/models', 'application/json']] as const) {
    const res = await chunkedFlood(server, path, type, 8);
    // The API refuses an anonymous caller before reading a byte; the public endpoints read up to the limit.
    t.is(res.status, path.startsWith('/api/') ? 401 : 413, path);
    t.true(res.closed, path);
    t.regex(res.head, /connection: close/i, path);
  }
  const health = await server.fetch(`${server.url}/healthz`);
  t.is(health.status, 200);
  t.false(server.logs.some((l) => l['msg'] === 'request failed'));
});

test('hole 2: a read-only or break-glass token cannot approve a device login; only a browser session can', async (t) => {
  const world = await orgWorld(t);
  const bob = await world.login(people.bob);
  const readOnly = String((await world.call('POST', '/api/v1/me/tokens', bob.token, { name: 'ro', scopes: ['read'] })).body['token']);
  const breakGlass = world.server.services.identity.breakGlass('root@ops.example').token;
  const started = (await (await world.server.fetch(`${world.server.url}/auth/device`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).json()) as Record<string, string>;
  for (const token of [readOnly, breakGlass, bob.token]) {
    const res = await world.server.fetch(`${world.server.url}/device/decision`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ user_code: started['user_code']!, decision: 'approve' }).toString(),
    });
    t.is(res.status, 401);
  }
  t.like((await poll(world, started['device_code']!)).body, { error: 'authorization_pending' });
  // A token never mints a wider one.
  const wider = await world.call('POST', '/api/v1/me/tokens', readOnly, { name: 'wider', scopes: ['read', 'write'] });
  t.is(wider.status, 403);
  const writeOnly = String((await world.call('POST', '/api/v1/me/tokens', bob.token, { name: 'wo', scopes: ['write'] })).body['token']);
  const escalate = await world.call('POST', '/api/v1/me/tokens', writeOnly, { name: 'admin', scopes: ['write', 'admin'] });
  t.is(escalate.status, 403);
  t.is(escalate.body['code'], 'insufficient_scope');
  // The browser session with its CSRF token approves.
  const { browser, csrf } = await signIn(world, people.bob);
  const ok = await browser.request(`${world.server.url}/device/decision`, { form: { _csrf: csrf, user_code: started['user_code']!, decision: 'approve' } });
  t.is(ok.status, 200);
});

test('hole 7: floods of sign-in calls and bad tokens get 429 with Retry-After, and bad tokens are audited as a count', async (t) => {
  const server = await startServer(t, { MODELSHARE_RATE_LIMITS_PER_ADDRESS: '5', MODELSHARE_RATE_LIMITS_FAILED_TOKENS: '5' });
  const statuses: number[] = [];
  for (let i = 0; i < 8; i++) {
    const res = await server.fetch(`${server.url}/auth/device`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    statuses.push(res.status);
    if (res.status === 429) t.regex(res.headers.get('retry-after') ?? '', /^\d+$/);
    await res.arrayBuffer();
  }
  t.deepEqual(statuses, [200, 200, 200, 200, 200, 429, 429, 429]);
  const rows = () => server.stores.db.prepare('SELECT count(*) AS n FROM device_requests').get() as { n: number };
  t.is(rows().n, 5, 'refused calls write nothing');

  const bad: number[] = [];
  for (let i = 0; i < 30; i++) {
    const res = await server.fetch(`${server.url}/api/v1/me`, { headers: { authorization: `Bearer msa_guess${i}` } });
    bad.push(res.status);
    await res.arrayBuffer();
  }
  t.deepEqual(bad.slice(0, 5), [401, 401, 401, 401, 401]);
  t.true(bad.slice(5).every((s) => s === 429));
  const audited = server.services.audit.recent(new Date(0)).filter((e) => e.action === 'auth.bearer');
  t.true(audited.length <= 2, `bad tokens audited as ${audited.length} rows, not 30`);
  t.true(audited.length >= 1);
  // Public routes stay open: the limit is for what signs in.
  t.is((await server.fetch(`${server.url}/healthz`)).status, 200);
});

test('hole 10: the member list comes in pages, and personal fields only to admins', async (t) => {
  const world = await orgWorld(t);
  const ada = await world.login(people.ada);
  const bob = await world.login(people.bob);
  for (const name of ['m1', 'm2', 'm3']) await world.login({ sub: name, email: `${name}@firm.example`, email_verified: true, name });
  const seen: string[] = [];
  let next: string | null = null;
  let pages = 0;
  do {
    const res: { status: number; body: Record<string, unknown> } = await world.call('GET', `/api/v1/organizations/${world.firm}/members?limit=2${next ? `&next=${next}` : ''}`, ada.token);
    t.is(res.status, 200);
    const members = res.body['members'] as { person_id: string }[];
    t.true(members.length <= 2);
    seen.push(...members.map((m) => m.person_id));
    next = res.body['next'] as string | null;
    pages++;
  } while (next && pages < 10);
  t.is(new Set(seen).size, seen.length, 'no member twice');
  t.true(seen.includes(bob.id) && seen.includes(ada.id));
  t.is(seen.length, 5);
  t.is(pages, 3);
  t.is((await world.call('GET', `/api/v1/organizations/${world.firm}/members?limit=0x2`, ada.token)).status, 400);
  t.is((await world.call('GET', `/api/v1/organizations/${world.firm}/members`, bob.token)).status, 403);
  t.is((await world.call('GET', `/api/v1/organizations/${world.firm}`, bob.token)).body['seats'], undefined);
});
