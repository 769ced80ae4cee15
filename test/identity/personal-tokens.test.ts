import test from 'ava';
import { deviceLogin, signIn, signInWorld, type SignInWorld } from '../helpers/sign-in.ts';

const ada = { sub: 'ada-1', email: 'ada@firm.example', email_verified: true, name: 'Ada', groups: ['ms-admins'] };
const bob = { sub: 'bob-1', email: 'bob@firm.example', email_verified: true, name: 'Bob' };

async function call(world: SignInWorld, method: string, path: string, token: string | undefined, body?: unknown) {
  const headers: Record<string, string> = {};
  if (token) headers['authorization'] = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await world.server.fetch(`${world.server.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

test('who may use the token calls: refusals first', async (t) => {
  const world = await signInWorld(t);
  const bobTokens = await deviceLogin(world, bob);
  const readOnly = await call(world, 'POST', '/api/v1/me/tokens', bobTokens.access_token, { name: 'ci', scopes: ['read'] });
  const rows: [string, string, string, string | undefined, unknown, number, string?][] = [
    ['anonymous list', 'GET', '/api/v1/me/tokens', undefined, undefined, 401, 'unauthorized'],
    ['anonymous create', 'POST', '/api/v1/me/tokens', undefined, { name: 'x', scopes: ['read'] }, 401, 'unauthorized'],
    ['bogus token', 'GET', '/api/v1/me/tokens', 'msa_' + 'x'.repeat(43), undefined, 401, 'unauthorized'],
    ['malformed token', 'GET', '/api/v1/me', '../../etc/passwd', undefined, 401, 'unauthorized'],
    ['a token creating tokens', 'POST', '/api/v1/me/tokens', String(readOnly.body['token']), { name: 'x', scopes: ['read'] }, 403, 'insufficient_scope'],
    ['admin scope for a non-admin', 'POST', '/api/v1/me/tokens', bobTokens.access_token, { name: 'x', scopes: ['admin'] }, 403, 'forbidden'],
    ['bad input', 'POST', '/api/v1/me/tokens', bobTokens.access_token, { name: '', scopes: ['root'] }, 400, 'validation_failed'],
    ['too long a lifetime', 'POST', '/api/v1/me/tokens', bobTokens.access_token, { name: 'x', scopes: ['read'], expires_in_days: 10_000 }, 400, 'validation_failed'],
  ];
  for (const [name, method, path, token, body, status, code] of rows) {
    const res = await call(world, method, path, token, body);
    t.is(res.status, status, name);
    if (code) t.is(res.body['code'], code, name);
  }
  t.is(readOnly.status, 201);
});

test('personal access tokens: shown once, listed, scoped, revoked, expiring, and private to their owner', async (t) => {
  const world = await signInWorld(t);
  const adaTokens = await deviceLogin(world, ada);
  const bobTokens = await deviceLogin(world, bob);

  const created = await call(world, 'POST', '/api/v1/me/tokens', adaTokens.access_token, { name: 'nightly export', scopes: ['read', 'admin'], expires_in_days: 30 });
  t.is(created.status, 201);
  t.regex(String(created.body['token']), /^msp_/);
  const pat = String(created.body['token']);
  const list = await call(world, 'GET', '/api/v1/me/tokens', adaTokens.access_token);
  t.deepEqual((list.body['tokens'] as Record<string, unknown>[]).map((x) => [x['name'], x['scopes']]), [['nightly export', ['read', 'admin']]]);
  t.false(JSON.stringify(list.body).includes(pat.slice(4)));

  t.is((await call(world, 'GET', '/api/v1/me', pat)).status, 200);
  t.like((await call(world, 'POST', '/api/v1/me/tokens', pat, { name: 'y', scopes: ['read'] })).body, { code: 'insufficient_scope' });
  const writer = await call(world, 'POST', '/api/v1/me/tokens', adaTokens.access_token, { name: 'writer', scopes: ['read', 'write'] });
  t.like((await call(world, 'POST', '/api/v1/me/tokens', String(writer.body['token']), { name: 'z', scopes: ['read'] })).body, { code: 'forbidden' });

  // Bob can neither see nor revoke Ada's token.
  t.deepEqual((await call(world, 'GET', '/api/v1/me/tokens', bobTokens.access_token)).body['tokens'], []);
  t.is((await call(world, 'DELETE', `/api/v1/me/tokens/${created.body['id']}`, bobTokens.access_token)).status, 404);
  t.is((await call(world, 'GET', '/api/v1/me', pat)).status, 200);

  t.is((await call(world, 'DELETE', `/api/v1/me/tokens/${created.body['id']}`, adaTokens.access_token)).status, 204);
  t.is((await call(world, 'GET', '/api/v1/me', pat)).status, 401);

  world.clock.advance(91 * 86_400_000);
  t.is((await call(world, 'GET', '/api/v1/me', String(writer.body['token']))).status, 401);
  const actions = world.server.services.audit.recent(new Date(0)).map((e) => `${e.action}:${e.outcome}`);
  for (const a of ['token.create:allowed', 'token.create:denied', 'token.revoke:allowed', 'token.revoke:denied']) t.true(actions.includes(a), a);
});

test('a browser session does not open the API, with or without its CSRF token', async (t) => {
  const world = await signInWorld(t);
  const { browser, csrf } = await signIn(world, bob);
  const cookie = `__Host-ms_session=${browser.cookies(world.server.url).get('__Host-ms_session')}`;
  for (const headers of [{ cookie }, { cookie, 'x-csrf-token': csrf }]) {
    const res = await world.server.fetch(`${world.server.url}/api/v1/me/tokens`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ name: 'from the browser', scopes: ['read'] }) });
    t.is(res.status, 401);
    t.like(await res.json(), { code: 'unauthorized' });
  }
  t.is((await browser.request(`${world.server.url}/api/v1/me`)).status, 401);
  t.is((world.server.stores.db.prepare("SELECT count(*) AS n FROM tokens WHERE kind = 'personal'").get() as { n: number }).n, 0);
});
