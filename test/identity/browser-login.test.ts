import crypto from 'node:crypto';
import fs from 'node:fs';
import test from 'ava';
import { resign } from '../helpers/test-provider.ts';
import { publicUrl, signIn, signInWorld } from '../helpers/sign-in.ts';

const ada = { sub: 'ada-1', email: 'Ada@Firm.example', email_verified: true, name: 'Ada Lovelace' };

test('a full browser sign-in: PKCE, state and nonce, a rotated Secure session cookie, audited', async (t) => {
  const world = await signInWorld(t);
  const browser = world.browser();
  const start = await browser.request(`${publicUrl}/auth/login/corp?return_to=/device`);
  t.is(start.status, 302);
  const authorize = new URL(start.location!);
  t.is(authorize.origin, world.op.issuer);
  t.is(authorize.searchParams.get('code_challenge_method'), 'S256');
  t.truthy(authorize.searchParams.get('state'));
  t.truthy(authorize.searchParams.get('nonce'));
  t.is(authorize.searchParams.get('redirect_uri'), `${publicUrl}/auth/callback`);
  world.op.nextAccount = ada;
  let page = await browser.request(start.location!);
  while (page.location && !page.location.startsWith(`${publicUrl}/auth/callback`)) page = await browser.request(page.location);
  const callback = await browser.request(page.location!);
  t.is(callback.status, 302);
  t.is(callback.location, `${publicUrl}/device`);
  const setCookie = callback.headers.get('set-cookie') ?? '';
  t.regex(setCookie, /__Host-ms_session=[A-Za-z0-9_-]{43}; path=\/; expires=[^;]+; samesite=lax; secure; httponly/);
  const device = await browser.follow(callback.location!);
  t.is(device.status, 200);
  t.regex(device.body, /Sign in a desktop client/);

  const events = world.server.services.audit.recent(new Date(0)).filter((e) => e.action === 'auth.sign_in');
  t.is(events.length, 1);
  t.like(events[0], { outcome: 'allowed', actor_email: 'ada@firm.example' });
  // A second sign-in gets a new session secret (rotation at login).
  const first = browser.cookies(world.server.url).get('__Host-ms_session');
  await signIn(world, ada, browser);
  t.not(browser.cookies(world.server.url).get('__Host-ms_session'), first);
});

test('people and sessions are stored sealed and hashed, not in plaintext', async (t) => {
  const world = await signInWorld(t);
  const { browser } = await signIn(world, { ...ada, email: 'marker-person@firm.example', name: 'Marker Person' });
  const session = browser.cookies(world.server.url).get('__Host-ms_session')!;
  world.server.stores.db.pragma('wal_checkpoint(TRUNCATE)');
  const db = fs.readFileSync(world.server.config.database.path);
  for (const needle of ['marker-person@firm.example', 'Marker Person', session]) t.false(db.includes(Buffer.from(needle)), needle);
});

test('return_to must be a local path', async (t) => {
  const world = await signInWorld(t);
  world.op.nextAccount = ada;
  for (const hostile of ['//evil.example/x', 'https://evil.example/', '/\\evil.example', 'javascript:alert(1)']) {
    const browser = world.browser();
    let page = await browser.request(`${publicUrl}/auth/login/corp?return_to=${encodeURIComponent(hostile)}`);
    while (page.location && !page.location.startsWith(`${publicUrl}/`)) page = await browser.request(page.location);
    const callback = await browser.request(page.location!);
    t.is(callback.location, `${publicUrl}/`, hostile);
  }
});

/** Walks a sign-in up to the callback, without calling it. */
async function toCallback(world: Awaited<ReturnType<typeof signInWorld>>, browser = world.browser()) {
  world.op.nextAccount = ada;
  let page = await browser.request(`${publicUrl}/auth/login/corp`);
  while (page.location && !page.location.startsWith(`${publicUrl}/auth/callback`)) page = await browser.request(page.location);
  return { browser, callbackUrl: page.location! };
}

const refusals: { name: string; reason: string; tamper?: (world: Awaited<ReturnType<typeof signInWorld>>) => (token: string) => string }[] = [
  { name: 'an ID token signed with another key (forged)', reason: 'id_token_signature_invalid', tamper: () => (tok) => resign(tok, newKey(), () => undefined) },
  { name: 'an ID token with an altered payload but the original signature', reason: 'id_token_signature_invalid', tamper: () => (tok) => {
    const [h, p, s] = tok.split('.');
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString()) as Record<string, unknown>;
    claims['email'] = 'mallory@firm.example';
    return `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`;
  } },
  { name: 'a wrong issuer', reason: 'id_token_iss_mismatch', tamper: (w) => (tok) => resign(tok, w.op.signingKey, (c) => void (c['iss'] = 'https://evil.example')) },
  { name: 'a wrong audience', reason: 'id_token_aud_mismatch', tamper: (w) => (tok) => resign(tok, w.op.signingKey, (c) => void (c['aud'] = 'someone-else')) },
  { name: 'a wrong nonce', reason: 'id_token_nonce_mismatch', tamper: (w) => (tok) => resign(tok, w.op.signingKey, (c) => void (c['nonce'] = 'replayed-nonce')) },
  { name: 'an ID token issued in the future', reason: 'id_token_iat_in_future', tamper: (w) => (tok) => resign(tok, w.op.signingKey, (c) => void ((c['iat'] = Math.floor(w.clock.now().getTime() / 1000) + 600), (c['exp'] = Math.floor(w.clock.now().getTime() / 1000) + 4200))) },
  { name: 'an ID token with alg none', reason: 'id_token_alg_none', tamper: () => (tok) => {
    const [, p] = tok.split('.');
    return `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${p}.`;
  } },
  { name: 'an ID token signed HS256 with the client secret', reason: 'id_token_alg_unexpected', tamper: (w) => (tok) => {
    const [, p] = tok.split('.');
    const h = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');
    const signature = crypto.createHmac('sha256', w.op.clientSecret).update(`${h}.${p}`).digest('base64url');
    return `${h}.${p}.${signature}`;
  } },
  { name: 'an ID token without a nonce', reason: 'id_token_nonce_missing', tamper: (w) => (tok) => resign(tok, w.op.signingKey, (c) => void delete c['nonce']) },
  { name: 'an expired ID token', reason: 'id_token_expired', tamper: (w) => (tok) => resign(tok, w.op.signingKey, (c) => void ((c['exp'] = Math.floor(Date.now() / 1000) - 3600), (c['iat'] = Math.floor(Date.now() / 1000) - 7200))) },
];

function newKey() {
  return crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
}

for (const refusal of refusals) {
  test(`${refusal.name} is refused and audited`, async (t) => {
    const world = await signInWorld(t);
    const { browser, callbackUrl } = await toCallback(world);
    world.op.tamper = refusal.tamper!(world);
    const res = await browser.request(callbackUrl);
    t.is(res.status, 401);
    const body = JSON.parse(res.body) as Record<string, unknown>;
    t.like(body, { code: 'sign_in_failed', reason: refusal.reason });
    t.is(browser.cookies(world.server.url).get('__Host-ms_session'), undefined);
    const denied = world.server.services.audit.recent(new Date(0)).filter((e) => e.action === 'auth.sign_in');
    t.deepEqual(denied.map((e) => [e.outcome, e.reason]), [['denied', refusal.reason]]);
  });
}

test('a mismatched state, a replayed callback, another browser and an expired sign-in are refused and audited', async (t) => {
  const world = await signInWorld(t);
  const cases: [string, () => Promise<{ status: number; body: string }>][] = [
    ['unknown_state', async () => {
      const { browser, callbackUrl } = await toCallback(world);
      const url = new URL(callbackUrl);
      url.searchParams.set('state', 'forged-state');
      return browser.request(url.href);
    }],
    ['replayed', async () => {
      const { browser, callbackUrl } = await toCallback(world);
      t.is((await browser.request(callbackUrl)).status, 302);
      return browser.request(callbackUrl);
    }],
    ['wrong_browser', async () => {
      const { callbackUrl } = await toCallback(world);
      return world.browser().request(callbackUrl);
    }],
    ['expired', async () => {
      const { browser, callbackUrl } = await toCallback(world);
      world.clock.advance(world.server.config.auth.login_lifetime + 1000);
      return browser.request(callbackUrl);
    }],
  ];
  for (const [reason, attempt] of cases) {
    const res = await attempt();
    t.is(res.status, 401, reason);
    t.like(JSON.parse(res.body), { code: 'sign_in_failed', reason });
  }
  const denied = world.server.services.audit.recent(new Date(0)).filter((e) => e.action === 'auth.sign_in' && e.outcome === 'denied');
  t.deepEqual(denied.map((e) => e.reason).sort(), ['expired', 'replayed', 'unknown_state', 'wrong_browser']);
});

test('an unverified e-mail signs in but is not verified, and admins come from provider groups', async (t) => {
  const world = await signInWorld(t);
  const { browser } = await signIn(world, { sub: 'u2', email: 'eve@firm.example', email_verified: false, name: 'Eve', groups: ['ms-admins'] });
  const home = await browser.request(`${world.server.url}/`);
  t.is(home.status, 200);
  t.regex(home.body, /Signed in as Eve \(eve@firm\.example, not verified\)/);
  const signedIn = world.server.services.audit.recent(new Date(0)).find((e) => e.action === 'auth.sign_in' && e.outcome === 'allowed')!;
  const eve = world.server.services.identity.people.get(signedIn.actor_id!)!;
  t.like(eve, { email: 'eve@firm.example', emailVerified: false, serverAdmin: true });
  t.is(world.server.services.orgs.statusOf(eve).sharing_enabled && eve.emailVerified, false);
});

test('logout ends the session; it needs the CSRF token', async (t) => {
  const world = await signInWorld(t);
  const { browser, csrf } = await signIn(world, ada);
  t.is((await browser.request(`${world.server.url}/auth/logout`, { form: { _csrf: 'wrong' } })).status, 403);
  t.is((await browser.request(`${world.server.url}/auth/logout`, { form: {} })).status, 403);
  t.regex((await browser.request(`${world.server.url}/`)).body, /Signed in as/);
  const out = await browser.request(`${world.server.url}/auth/logout`, { form: { _csrf: csrf } });
  t.is(out.status, 303);
  t.notRegex((await browser.request(`${world.server.url}/`)).body, /Signed in as/);
  t.is((await browser.request(`${world.server.url}/device`)).status, 302);
});

test('a session ends when idle and at its absolute end', async (t) => {
  const world = await signInWorld(t);
  const { browser } = await signIn(world, ada);
  world.clock.advance(world.server.config.auth.session_idle - 60_000);
  t.is((await browser.request(`${world.server.url}/device`)).status, 200);
  world.clock.advance(world.server.config.auth.session_idle + 1000);
  t.is((await browser.request(`${world.server.url}/device`)).status, 302);
});

test('a sign-in started at another address the certificate covers is sent to public_url first, and succeeds', async (t) => {
  const world = await signInWorld(t);
  // Cookies kept per address, as a real browser keeps them: the login cookie of 127.0.0.1 would never reach public_url.
  const browser = world.browser({ jarPerOrigin: true });
  world.op.nextAccount = ada;
  const start = await browser.request(`${world.server.url}/auth/login?return_to=/device`);
  t.is(start.status, 302);
  t.is(start.location, `${publicUrl}/auth/login?return_to=/device`);
  const device = await browser.follow(start.location!);
  t.is(device.status, 200, device.body);
  t.regex(device.body, /Sign in a desktop client/);
  t.is(device.url, `${publicUrl}/device`);
});

test('a failed browser sign-in shows a page that says what happened and what to do; API clients keep the problem document', async (t) => {
  const world = await signInWorld(t);
  const { callbackUrl } = await toCallback(world);
  const html = await world.browser().request(callbackUrl, { headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
  t.is(html.status, 401);
  t.regex(html.headers.get('content-type') ?? '', /^text\/html/);
  t.regex(html.body, /<h1>Sign-in did not succeed<\/h1>/);
  t.regex(html.body, /started in another browser/);
  t.regex(html.body, new RegExp(`at <a href="${publicUrl}/">${publicUrl}</a>, and finish it there`));
  t.regex(html.body, /Request id: <code>[0-9a-f-]{36}<\/code>/);
  const { callbackUrl: again } = await toCallback(world);
  const api = await world.browser().request(again, { headers: { accept: 'application/json' } });
  t.is(api.status, 401);
  t.like(JSON.parse(api.body), { code: 'sign_in_failed', reason: 'wrong_browser' });
});
