/**
 * Sign-in for tests: a test provider and a server configured to use it, a browser signed in through
 * them, and a desktop (device) login completed by scripted HTTP, as PROTOCOL.md describes it.
 */
import fs from 'node:fs';
import type { ExecutionContext } from 'ava';
import { Browser, formField, type BrowserOptions } from './browser.ts';
import { eventually } from './eventually.ts';
import { startServer, testClock, type TestServer } from './server.ts';
import { startTestProvider, type TestAccount, type TestProvider } from './test-provider.ts';

export const publicUrl = 'https://modelshare.test';

export interface SignInWorld {
  server: TestServer;
  op: TestProvider;
  clock: ReturnType<typeof testClock>;
  /** A new browser that trusts the server and the provider. */
  browser(options?: BrowserOptions): Browser;
}

export async function signInWorld(t: ExecutionContext, env: Record<string, string> = {}): Promise<SignInWorld> {
  const op = await startTestProvider(t, `${publicUrl}/auth/callback`);
  const clock = testClock(new Date());
  const providers = [{ id: 'corp', name: 'Corp SSO', issuer: op.issuer, client_id: op.clientId, client_secret: op.clientSecret, ca_file: op.caFile, admin_groups: ['ms-admins'] }];
  const server = await startServer(t, { MODELSHARE_PUBLIC_URL: publicUrl, MODELSHARE_AUTH_PROVIDERS: JSON.stringify(providers), ...env }, clock);
  // Generous: on a loaded machine the first discovery can time out and is retried after a back-off.
  await eventually(() => server.services.identity.providers.list().every((p) => p.ready), 'provider discovery', 60_000);
  const opCa = fs.readFileSync(op.caFile, 'utf8');
  return { server, op, clock, browser: (options) => new Browser(t, [server.ca!, opCa], { [publicUrl]: server.url }, options) };
}

/** Signs `account` in through the browser; returns the browser and the session's CSRF token. */
export async function signIn(world: SignInWorld, account: TestAccount, browser = world.browser()) {
  world.op.nextAccount = account;
  const home = await browser.follow(`${world.server.url}/auth/login`);
  if (home.status !== 200) throw new Error(`sign-in failed (${home.status}): ${home.body}`);
  return { browser, csrf: formField(home.body, '_csrf') };
}

/** A complete desktop login: device code, approval in the browser, tokens. */
export async function deviceLogin(world: SignInWorld, account: TestAccount, clientName = 'Test modeller') {
  const { server } = world;
  const started = (await (await server.fetch(`${server.url}/auth/device`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ client_name: clientName }) })).json()) as Record<string, string>;
  const { browser, csrf } = await signIn(world, account);
  const confirm = await browser.request(`${server.url}/device`, { form: { _csrf: csrf, user_code: started['user_code']! } });
  if (confirm.status !== 200) throw new Error(`device confirm failed: ${confirm.body}`);
  await browser.request(`${server.url}/device/decision`, { form: { _csrf: csrf, user_code: started['user_code']!, decision: 'approve' } });
  const tokens = await poll(world, started['device_code']!);
  if (tokens.status !== 200) throw new Error(`device token failed: ${JSON.stringify(tokens.body)}`);
  return tokens.body as { access_token: string; refresh_token: string; expires_in: number; token_type: string };
}

export async function poll(world: SignInWorld, deviceCode: string) {
  return tokenCall(world, { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: deviceCode });
}

export async function tokenCall(world: SignInWorld, form: Record<string, string>, path = '/auth/token') {
  const res = await world.server.fetch(`${world.server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form).toString() });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

export async function me(world: SignInWorld, token: string) {
  const res = await world.server.fetch(`${world.server.url}/api/v1/me`, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}
