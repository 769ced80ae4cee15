/**
 * The sign-in provider goes down after the server started: its reachability is checked in the
 * background, and /auth/login answers 503 provider_unavailable (a page for browsers, a problem
 * document otherwise) instead of sending browsers to a dead provider.
 */
import test from 'ava';
import { publicUrl, signInWorld } from '../helpers/sign-in.ts';

test('a provider that stops after the start: /auth/login answers 503, as a page in a browser', async (t) => {
  // The test polls /auth/login until it answers 503: more than the sign-in rate limit allows.
  const world = await signInWorld(t, { MODELSHARE_AUTH_PROVIDER_CHECK_INTERVAL: '100ms', MODELSHARE_RATE_LIMITS_PER_ADDRESS: '100000' });
  const { server } = world;
  // At public_url, as a browser signs in (from another address it is sent there first).
  const browser = world.browser();
  const before = await browser.request(`${publicUrl}/auth/login`);
  t.is(before.status, 302);
  t.true(before.location!.startsWith(world.op.issuer));
  const login = () => server.fetch(`${server.url}/auth/login`, { redirect: 'manual' });

  await world.op.stop();
  const until = Date.now() + 10_000;
  let api = await login();
  while (api.status !== 503 && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 50));
    api = await login();
  }
  t.is(api.status, 503, 'no redirect to a provider that cannot be reached');
  t.is(api.headers.get('content-type'), 'application/problem+json');
  t.like(await api.json(), { code: 'provider_unavailable', status: 503 });
  t.truthy(api.headers.get('retry-after'));

  const browserAccept = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';
  const page = await browser.request(`${publicUrl}/auth/login/corp`, { headers: { accept: browserAccept } });
  t.is(page.status, 503);
  t.regex(page.headers.get('content-type') ?? '', /^text\/html/);
  t.regex(page.body, /Corp SSO cannot be reached/);

  t.true(server.logs.some((l) => l['level'] === 'error' && /cannot be reached/.test(String(l['msg'])) && l['provider'] === 'corp'));
  t.is((await server.fetch(`${server.url}/healthz`)).status, 200, 'everything else is served');
});
