import fs from 'node:fs';
import test from 'ava';
import { deviceLogin, me, poll, signIn, signInWorld, tokenCall } from '../helpers/sign-in.ts';
import { startServer } from '../helpers/server.ts';

const bob = { sub: 'bob-1', email: 'bob@firm.example', email_verified: true, name: 'Bob Builder' };

async function startDevice(world: Awaited<ReturnType<typeof signInWorld>>, body: string, type = 'application/json') {
  const res = await world.server.fetch(`${world.server.url}/auth/device`, { method: 'POST', headers: { 'content-type': type }, body });
  return { status: res.status, body: (await res.json()) as Record<string, string | number> };
}

test('a full desktop login by scripted HTTP, as PROTOCOL.md specifies it', async (t) => {
  const world = await signInWorld(t);
  const started = await startDevice(world, 'client_name=Bob%27s+modeller', 'application/x-www-form-urlencoded');
  t.is(started.status, 200);
  t.regex(String(started.body['user_code']), /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
  t.is(started.body['verification_uri'], 'https://modelshare.test/device');
  t.is(started.body['verification_uri_complete'], `https://modelshare.test/device?user_code=${started.body['user_code']}`);
  t.is(started.body['interval'], 5);
  t.is(started.body['expires_in'], 600);
  const deviceCode = String(started.body['device_code']);

  t.like((await poll(world, deviceCode)).body, { error: 'authorization_pending' });
  t.like((await poll(world, deviceCode)).body, { error: 'slow_down' });

  const { browser, csrf } = await signIn(world, bob);
  const entry = await browser.request(String(started.body['verification_uri_complete']));
  t.is(entry.status, 200);
  t.true(entry.body.includes(`value="${started.body['user_code']}"`));
  const confirm = await browser.request(`${world.server.url}/device`, { form: { _csrf: csrf, user_code: String(started.body['user_code']).toLowerCase() } });
  t.is(confirm.status, 200);
  t.true(confirm.body.includes('Bob&#39;s modeller'));
  const done = await browser.request(`${world.server.url}/device/decision`, { form: { _csrf: csrf, user_code: String(started.body['user_code']), decision: 'approve' } });
  t.regex(done.body, /is signed in/);

  world.clock.advance(20_000);
  const tokens = await poll(world, deviceCode);
  t.is(tokens.status, 200);
  t.like(tokens.body, { token_type: 'Bearer', expires_in: 3600 });
  t.regex(String(tokens.body['access_token']), /^msa_/);
  t.regex(String(tokens.body['refresh_token']), /^msr_/);
  t.like((await me(world, String(tokens.body['access_token']))).body, { email: 'bob@firm.example', email_verified: true, sharing_enabled: true });
  // The approval is handed out once.
  t.like((await poll(world, deviceCode)).body, { error: 'expired_token' });
  t.true(world.server.services.audit.recent(new Date(0)).some((e) => e.action === 'auth.token' && e.outcome === 'allowed'));
});

test('a denied desktop login answers access_denied, an old one expired_token, a bogus one invalid_grant', async (t) => {
  const world = await signInWorld(t);
  const denied = await startDevice(world, '{}');
  const { browser, csrf } = await signIn(world, bob);
  await browser.request(`${world.server.url}/device/decision`, { form: { _csrf: csrf, user_code: String(denied.body['user_code']), decision: 'deny' } });
  t.like((await poll(world, String(denied.body['device_code']))).body, { error: 'access_denied' });

  const late = await startDevice(world, '{}');
  world.clock.advance(11 * 60_000);
  t.like((await poll(world, String(late.body['device_code']))).body, { error: 'expired_token' });
  const page = await browser.request(`${world.server.url}/device`, { form: { _csrf: csrf, user_code: String(late.body['user_code']) } });
  t.is(page.status, 400);

  t.like((await poll(world, 'A'.repeat(43))).body, { error: 'invalid_grant' });
  t.like((await tokenCall(world, { grant_type: 'password', username: 'x' })).body, { error: 'invalid_request' });
});

test('bad input to /auth/device gets a problem document', async (t) => {
  const world = await signInWorld(t);
  const cases: [string, string, number, string][] = [
    ['{"client_name": ', 'application/json', 400, 'malformed_json'],
    ['{"client_name": 5}', 'application/json', 400, 'validation_failed'],
    ['{"client_name": "x", "extra": 1}', 'application/json', 400, 'validation_failed'],
    [JSON.stringify({ client_name: 'x'.repeat(2_000_000) }), 'application/json', 413, 'payload_too_large'],
    ['<xml/>', 'application/xml', 415, 'unsupported_media_type'],
  ];
  for (const [body, type, status, code] of cases) {
    const res = await startDevice(world, body, type);
    t.is(res.status, status, code);
    t.is(res.body['code'], code);
  }
});

test('the approval pages need a signed-in browser and its CSRF token, and limit code guessing', async (t) => {
  const world = await signInWorld(t);
  const anonymous = await world.browser().request(`${world.server.url}/device?user_code=BCDF-GHJK`);
  t.is(anonymous.status, 302);
  t.is(anonymous.location, `${world.server.url.replace(/\/$/, '')}/auth/login?return_to=%2Fdevice%3Fuser_code%3DBCDF-GHJK`);
  const { browser, csrf } = await signIn(world, bob);
  t.is((await browser.request(`${world.server.url}/device`, { form: { user_code: 'BCDF-GHJK' } })).status, 403);
  for (let i = 0; i < 10; i++) t.is((await browser.request(`${world.server.url}/device`, { form: { _csrf: csrf, user_code: 'BCDF-GHJK' } })).status, 400);
  t.is((await browser.request(`${world.server.url}/device`, { form: { _csrf: csrf, user_code: 'BCDF-GHJK' } })).status, 429);
});

test('refresh tokens rotate, and a reused one revokes the whole login', async (t) => {
  const world = await signInWorld(t);
  const first = await deviceLogin(world, bob);
  const second = await tokenCall(world, { grant_type: 'refresh_token', refresh_token: first.refresh_token });
  t.is(second.status, 200);
  t.not(second.body['refresh_token'], first.refresh_token);
  t.is((await me(world, String(second.body['access_token']))).status, 200);

  const reuse = await tokenCall(world, { grant_type: 'refresh_token', refresh_token: first.refresh_token });
  t.like(reuse.body, { error: 'invalid_grant' });
  t.is((await me(world, String(second.body['access_token']))).status, 401);
  t.is((await me(world, first.access_token)).status, 401);
  t.like((await tokenCall(world, { grant_type: 'refresh_token', refresh_token: String(second.body['refresh_token']) })).body, { error: 'invalid_grant' });
  t.true(world.server.services.audit.recent(new Date(0)).some((e) => e.action === 'auth.refresh_reuse' && e.outcome === 'denied'));
});

test('revocation (RFC 7009) ends the login; access tokens expire', async (t) => {
  const world = await signInWorld(t);
  const tokens = await deviceLogin(world, bob);
  t.is((await tokenCall(world, { token: tokens.refresh_token }, '/auth/revoke')).status, 200);
  t.is((await me(world, tokens.access_token)).status, 401);
  t.is((await tokenCall(world, { token: 'msa_unknown' }, '/auth/revoke')).status, 200);

  const other = await deviceLogin(world, bob);
  world.clock.advance(world.server.config.auth.access_token_lifetime + 1000);
  const expired = await me(world, other.access_token);
  t.is(expired.status, 401);
  t.is(expired.body['code'], 'unauthorized');
});

test('tokens are stored only as hashes', async (t) => {
  const world = await signInWorld(t);
  const tokens = await deviceLogin(world, bob);
  world.server.stores.db.pragma('wal_checkpoint(TRUNCATE)');
  const file = fs.readFileSync(world.server.config.database.path);
  for (const token of [tokens.access_token, tokens.refresh_token]) {
    t.false(file.includes(Buffer.from(token)));
    t.false(file.includes(Buffer.from(token.slice(4))));
  }
  const rows = world.server.stores.db.prepare('SELECT length(hash) AS n FROM tokens').all() as { n: number }[];
  t.true(rows.length >= 2 && rows.every((r) => r.n === 32));
});

test('a provider that goes down does not break existing tokens; sign-in then answers 503', async (t) => {
  const world = await signInWorld(t);
  const tokens = await deviceLogin(world, bob);
  await world.op.stop();
  t.is((await me(world, tokens.access_token)).status, 200);
  t.is((await tokenCall(world, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token })).status, 200);

  // A server started while the provider is down keeps serving the tokens in its database.
  const restarted = await startServer(t, {
    MODELSHARE_DATA_DIR: world.server.dataDir,
    MODELSHARE_PUBLIC_URL: 'https://modelshare.test',
    MODELSHARE_AUTH_PROVIDERS: JSON.stringify([{ id: 'corp', issuer: world.op.issuer, client_id: 'x', ca_file: world.op.caFile }]),
  }, world.clock);
  const login = await restarted.fetch(`${restarted.url}/auth/login/corp`, { redirect: 'manual' });
  t.is(login.status, 503);
  t.like(await login.json(), { code: 'provider_unavailable' });
  const meAgain = await restarted.fetch(`${restarted.url}/api/v1/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
  t.is(meAgain.status, 200);
});
