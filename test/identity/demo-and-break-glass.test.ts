import net from 'node:net';
import test from 'ava';
import { AuditService } from '../../src/audit/audit-service.ts';
import { systemClock } from '../../src/clock.ts';
import { Browser } from '../helpers/browser.ts';
import { runCommand, spawnServer } from '../helpers/spawn.ts';
import { openTestStores } from '../helpers/stores.ts';
import { tmpDir } from '../helpers/tmp.ts';

test('the demo provider refuses to start next to a real provider or in production', (t) => {
  const provider = JSON.stringify([{ id: 'corp', issuer: 'https://127.0.0.1:9/', client_id: 'x' }]);
  const beside = runCommand(['serve'], { MODELSHARE_DATA_DIR: tmpDir(t), MODELSHARE_DEMO_ENABLED: 'on', MODELSHARE_AUTH_PROVIDERS: provider });
  t.is(beside.code, 1);
  t.regex(beside.stderr, /demo\.enabled is on, but auth\.providers configures a real provider/);
  const production = runCommand(['serve'], { MODELSHARE_DATA_DIR: tmpDir(t), MODELSHARE_DEMO_ENABLED: 'on', MODELSHARE_PRODUCTION: 'true' });
  t.is(production.code, 1);
  t.regex(production.stderr, /demo\.enabled is on, but production is true/);
});

test('`modelshare admin token` prints a short-lived admin token whose use is audited', async (t) => {
  const dir = tmpDir(t);
  const issued = runCommand(['admin', 'token', '--email', 'it@firm.example'], { MODELSHARE_DATA_DIR: dir, MODELSHARE_LOG_LEVEL: 'warn' });
  t.is(issued.code, 0, issued.stderr);
  const token = issued.stdout.trim();
  t.regex(token, /^msb_[A-Za-z0-9_-]{43}$/);
  t.regex(issued.stderr, /valid until .*; its use is audited/);
  t.is(runCommand(['admin', 'token'], { MODELSHARE_DATA_DIR: dir }).code, 2);

  const server = await spawnServer(t, { MODELSHARE_DATA_DIR: dir });
  const res = await server.fetch(`${server.url}/api/v1/me`, { headers: { authorization: `Bearer ${token}` } });
  t.is(res.status, 200);
  t.like(await res.json(), { email: 'it@firm.example', server_admin: true });
  server.child.kill('SIGTERM');
  await server.exited;
  const { db, keys } = openTestStores(t, {}, dir);
  const events = new AuditService(db, keys, systemClock).recent(new Date(0)).map((e) => `${e.action}:${e.outcome}:${e.actor_email}`);
  t.true(events.includes('auth.break_glass_issued:allowed:it@firm.example'));
  t.true(events.includes('auth.break_glass_used:allowed:it@firm.example'));
});

test('on embedded defaults the demo provider signs a person in, and every page says DEMO', async (t) => {
  const port = await freePort();
  const server = await spawnServer(t, { MODELSHARE_DATA_DIR: tmpDir(t), MODELSHARE_SERVER_PORT: String(port), MODELSHARE_PUBLIC_URL: `https://localhost:${port}` });
  t.regex(server.output(), /DEMO SIGN-IN PROVIDER IS RUNNING/);
  const browser = new Browser(t, [server.ca!]);
  const base = `https://localhost:${port}`;
  // The server discovers its own demo provider once it listens; until then sign-in answers 503.
  let pick = await browser.follow(`${base}/auth/login`);
  for (let i = 0; pick.status === 503 && i < 100; i++) {
    await new Promise((r) => setTimeout(r, 100));
    pick = await browser.follow(`${base}/auth/login`);
  }
  t.is(pick.status, 200);
  t.regex(pick.body, /DEMO SIGN-IN: for evaluation only/);
  t.regex(pick.body, /Ada Lovelace \(ada@example\.com\), server admin/);
  const action = /action="([^"]+)"/.exec(pick.body)![1]!;
  const home = await browser.follow(`${base}${action}`, { form: { person: 'demo-1' } });
  t.is(home.status, 200, server.output().split('\n').filter((l) => /refused|error/.test(l)).join('\n'));
  t.regex(home.body, /DEMO SIGN-IN/);
  t.regex(home.body, /Signed in as Ada Lovelace \(ada@example\.com\)/);
  // The browser session approves a desktop login; the API answers that login's token (never the cookie).
  const csrf = /name="_csrf" value="([^"]+)"/.exec(home.body)![1]!;
  const started = JSON.parse((await browser.request(`${base}/auth/device`, { form: { client_name: 'demo' } })).body) as Record<string, string>;
  const decided = await browser.request(`${base}/device/decision`, { form: { _csrf: csrf, user_code: started['user_code']!, decision: 'approve' } });
  t.is(decided.status, 200);
  const tokens = JSON.parse((await browser.request(`${base}/auth/token`, { form: { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: started['device_code']! } })).body) as Record<string, string>;
  const me = JSON.parse((await browser.request(`${base}/api/v1/me`, { headers: { authorization: `Bearer ${tokens['access_token']}` } })).body) as Record<string, unknown>;
  t.like(me, { email: 'ada@example.com', email_verified: true, server_admin: true, sharing_enabled: true });
  // The demo declares its own organization, and Ada (in the demo admin group) is its admin.
  t.like(me['organizations'], [{ name: 'Example Engineering (demo)', role: 'admin', sharing_enabled: true }]);
  server.child.kill('SIGTERM');
  await server.exited;
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}
