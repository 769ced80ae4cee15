import test from 'ava';
import type { StatusSource } from '../../src/status/sources.ts';
import { startServer, testClock, type TestServer } from '../helpers/server.ts';
import { signInWorld } from '../helpers/sign-in.ts';

interface Report {
  status: string;
  version: string;
  checks: { name: string; state: string; reason: string; details?: Record<string, unknown> }[];
}

async function statusJson(server: TestServer, headers: Record<string, string> = {}): Promise<{ http: number; report: Report; text: string }> {
  const response = await server.fetch(`${server.url}/status.json`, { headers });
  const text = await response.text();
  return { http: response.status, report: JSON.parse(text) as Report, text };
}

/** What the backups will plug in: the last backup and its verification. */
function backupSource(state: { ok: boolean }): StatusSource {
  return {
    name: 'last_backup',
    check: () =>
      state.ok
        ? { state: 'up', reason: 'the last backup finished and verified', details: { finished_at: '2026-12-03T03:00:00.000Z', verified: true } }
        : { state: 'degraded', reason: 'the last backup failed: the backup directory is not writable', details: { finished_at: null, verified: false } },
  };
}

test('/status.json is public, ignores credentials, and reports every part up', async (t) => {
  const server = await startServer(t);
  const { http, report } = await statusJson(server, { authorization: 'Bearer bogus', cookie: '__Host-ms_session=bogus' });
  t.is(http, 200);
  t.is(report.status, 'up');
  t.regex(report.version, /^\d+\.\d+\.\d+/);
  t.deepEqual(report.checks.map((c) => c.name), ['service', 'database', 'blob_storage', 'certificate']);
  t.true(report.checks.every((c) => c.state === 'up' && c.reason.length > 0));
  const blobs = report.checks.find((c) => c.name === 'blob_storage')!;
  t.true(Number(blobs.details?.['free_bytes']) > 0);
  t.regex(blobs.reason, /GiB free/);
});

test('/status.json turns degraded when the last backup failed, and back up when it succeeds', async (t) => {
  const server = await startServer(t, { MODELSHARE_TLS_MODE: 'off' });
  const backup = { ok: false };
  server.services.statusSources.push(backupSource(backup));
  const failed = (await statusJson(server)).report;
  t.is(failed.status, 'degraded');
  t.like(failed.checks.find((c) => c.name === 'last_backup'), { state: 'degraded', reason: 'the last backup failed: the backup directory is not writable' });
  backup.ok = true;
  t.is((await statusJson(server)).report.status, 'up');
});

test('an expiring certificate shows degraded, an expired one down', async (t) => {
  const clock = testClock();
  const server = await startServer(t, { MODELSHARE_TLS_LIFETIME: '30d' }, clock);
  clock.advance(27 * 86_400_000); // renewal was due at day 20; the job has not run
  const expiring = (await statusJson(server)).report;
  t.is(expiring.status, 'degraded');
  t.like(expiring.checks.find((c) => c.name === 'certificate'), { state: 'degraded' });
  t.regex(expiring.checks.find((c) => c.name === 'certificate')!.reason, /expires in \d+ day/);
  clock.advance(4 * 86_400_000);
  t.like((await statusJson(server)).report, { status: 'down' });
});

test('a failing or hanging check is down with a fixed reason; its error stays in the log', async (t) => {
  const server = await startServer(t, { MODELSHARE_TLS_MODE: 'off' });
  server.services.statusSources.push({ name: 'broken', check: () => { throw new Error('SQLITE_IOERR at /var/lib/modelshare/secret-path'); } });
  server.services.statusSources.push({ name: 'hanging', check: () => new Promise(() => undefined) });
  const { report, text } = await statusJson(server);
  t.is(report.status, 'down');
  t.like(report.checks.find((c) => c.name === 'broken'), { state: 'down', reason: 'the check failed' });
  t.like(report.checks.find((c) => c.name === 'hanging'), { state: 'down', reason: 'the check did not answer in time' });
  t.like(report.checks.find((c) => c.name === 'database'), { state: 'up' });
  t.false(text.includes('secret-path'));
  t.true(server.logs.some((l) => l['msg'] === 'status check failed'));
});

test('/status is an escaped HTML page without scripts, showing the same', async (t) => {
  const server = await startServer(t, { MODELSHARE_TLS_MODE: 'off' });
  server.services.statusSources.push({ name: 'last_backup', check: () => ({ state: 'degraded', reason: '<script>alert(1)</script> failed' }) });
  const response = await server.fetch(`${server.url}/status`);
  t.is(response.status, 200);
  t.regex(response.headers.get('content-type') ?? '', /^text\/html/);
  t.regex(response.headers.get('content-security-policy') ?? '', /default-src 'self'/);
  const page = await response.text();
  t.false(/<script/i.test(page));
  t.true(page.includes('&lt;script&gt;alert(1)&lt;/script&gt; failed'));
  t.regex(page, /<h1>Status: Degraded<\/h1>/);
  t.regex(page, /<th scope="row">last backup<\/th><td data-state="degraded"><strong>Degraded<\/strong><\/td>/);
});

test('each sign-in provider has its row: up once reachable, down while it cannot be reached', async (t) => {
  const world = await signInWorld(t);
  const reachable = (await statusJson(world.server)).report;
  t.like(reachable.checks.find((c) => c.name === 'sign_in_corp'), { state: 'up', reason: 'Corp SSO is reachable' });
  t.false(JSON.stringify(reachable).includes(world.op.issuer), 'the provider address is not shown');

  const providers = [{ id: 'gone', name: 'Gone SSO', issuer: 'https://127.0.0.1:9/', client_id: 'x', client_secret: 'y' }];
  const server = await startServer(t, { MODELSHARE_TLS_MODE: 'off', MODELSHARE_AUTH_PROVIDERS: JSON.stringify(providers) });
  const unreachable = (await statusJson(server)).report;
  t.is(unreachable.status, 'down');
  t.like(unreachable.checks.find((c) => c.name === 'sign_in_gone'), { state: 'down', reason: 'Gone SSO cannot be reached; sign-in through it fails until it can' });
});
