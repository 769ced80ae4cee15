import crypto from 'node:crypto';
import test from 'ava';
import parsePrometheusTextFormat, { type Family } from 'parse-prometheus-text-format';
import { person } from '../helpers/people.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

const token = 'metrics-token-of-the-operator-0123456789';

async function scrape(server: TestServer, headers: Record<string, string> = { authorization: `Bearer ${token}` }) {
  const response = await server.fetch(`${server.url}/metrics`, { headers });
  return { status: response.status, type: response.headers.get('content-type'), text: await response.text() };
}

function family(families: Family[], name: string): Family {
  const found = families.find((f) => f.name === name);
  if (!found) throw new Error(`no metric family ${name}`);
  return found;
}

function value(families: Family[], name: string, labels: Record<string, string> = {}): number {
  const sample = family(families, name).metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  return Number(sample?.value ?? sample?.count ?? NaN);
}

test('without the token /metrics is refused; without any configuration it does not exist', async (t) => {
  const closed = await startServer(t, { MODELSHARE_TLS_MODE: 'off' });
  t.is((await scrape(closed)).status, 404);
  t.is((await scrape(closed, {})).status, 404);

  const server = await startServer(t, { MODELSHARE_TLS_MODE: 'off', MODELSHARE_METRICS_TOKEN: token });
  for (const headers of [{} as Record<string, string>, { authorization: 'Bearer wrong' }, { authorization: `Bearer ${token}x` }, { authorization: `Basic ${Buffer.from(`x:${token}`).toString('base64')}` }]) {
    const refused = await scrape(server, headers);
    t.is(refused.status, 401, JSON.stringify(headers));
    t.like(JSON.parse(refused.text), { code: 'unauthorized' });
    t.false(refused.text.includes('modelshare_'), 'no metric leaks into the refusal');
  }
  // A user's token is not the metrics token (and is not looked up as one: no audit row for it).
  const ivy = person(server, 'Ivy');
  const before = server.services.audit.head().seq;
  t.is((await scrape(server, { authorization: `Bearer ${ivy.token}` })).status, 401);
  t.is(server.services.audit.head().seq, before);
  t.is((await scrape(server)).status, 200);
});

test('from loopback without a token only when allowed, and never through a proxy', async (t) => {
  const server = await startServer(t, { MODELSHARE_TLS_MODE: 'off', MODELSHARE_METRICS_ALLOW_LOOPBACK: 'true' });
  t.is((await scrape(server, {})).status, 200);
  t.is((await scrape(server, { 'x-forwarded-for': '203.0.113.9' })).status, 401);
  t.is((await scrape(server, { forwarded: 'for=203.0.113.9' })).status, 401);
  t.is((await scrape(server, { authorization: 'Bearer guess' })).status, 401);
});

test('the metrics parse by the Prometheus text format and are labelled by route template, never by id', async (t) => {
  const server = await startServer(t, { MODELSHARE_TLS_MODE: 'off', MODELSHARE_METRICS_TOKEN: token });
  const owner = person(server, 'Olive');
  const created = await owner.call('POST', '/api/v1/models', { json: { name: 'Bridge' } });
  t.is(created.status, 201);
  const id = String(created.body['id']);
  for (let i = 0; i < 2; i++) t.is((await owner.call('GET', `/api/v1/models/${id}`)).status, 200);
  const digest = (b: Buffer) => `sha-256=:${crypto.createHash('sha256').update(b).digest('base64')}:`;
  const baseline = crypto.randomBytes(5000);
  t.is((await owner.call('POST', `/api/v1/models/${id}/baselines?seq=0`, { raw: baseline, headers: { 'content-digest': digest(baseline) } })).status, 201);
  const packet = crypto.randomBytes(70_000);
  t.is((await owner.call('POST', `/api/v1/models/${id}/packets?base=0`, { raw: packet, headers: { 'content-digest': digest(packet) } })).status, 201);
  t.is((await owner.call('GET', `/api/v1/models/${crypto.randomUUID()}`)).status, 404);
  t.is((await server.fetch(`${server.url}/no/such/${id}`)).status, 404);
  // An open notification stream.
  const stream = new AbortController();
  const events = await server.fetch(`${server.url}/api/v1/events`, { headers: { authorization: `Bearer ${owner.token}` }, signal: stream.signal });
  t.is(events.status, 200);
  // Hooks the other parts report through, and a sign-in counted from the audit log.
  server.services.metrics.rateLimited('sign_in');
  server.services.metrics.jobRan('tls-renewal', 'ok', 0.25);
  server.services.metrics.backupSucceeded(new Date('2026-12-01T03:00:00Z'));
  server.services.audit.record({ action: 'auth.sign_in', outcome: 'denied', reason: 'iat_in_future' });

  const { status, type, text } = await scrape(server);
  stream.abort();
  t.is(status, 200);
  t.regex(type ?? '', /^text\/plain; version=0\.0\.4/);
  const families = parsePrometheusTextFormat(text);
  t.false(text.includes(id), 'no model id in any label');
  t.is(value(families, 'modelshare_http_requests_total', { method: 'GET', route: '/api/v1/models/:id', status: '200' }), 2);
  t.is(value(families, 'modelshare_http_requests_total', { method: 'GET', route: '/api/v1/models/:id', status: '404' }), 1);
  t.is(value(families, 'modelshare_http_requests_total', { method: 'GET', route: 'unmatched', status: '404' }), 1);
  t.is(value(families, 'modelshare_write_outs_total'), 1);
  t.is(value(families, 'modelshare_baselines_total'), 1);
  t.true(value(families, 'modelshare_http_received_bytes_total', { route: '/api/v1/models/:id/packets' }) >= packet.length);
  t.true(value(families, 'modelshare_http_sent_bytes_total', { route: '/api/v1/models/:id' }) > 0);
  t.is(family(families, 'modelshare_http_request_duration_seconds').type, 'HISTOGRAM');
  // (parse-prometheus-text-format keeps one label set per histogram only, so its count is read from the line.)
  t.regex(text, /^modelshare_http_request_duration_seconds_count\{method="POST",route="\/api\/v1\/models\/:id\/packets"\} 1$/m);
  t.is(value(families, 'modelshare_event_streams_open'), 1);
  t.is(value(families, 'modelshare_rate_limit_refusals_total', { limit: 'sign_in' }), 1);
  t.is(value(families, 'modelshare_job_runs_total', { job: 'tls-renewal', outcome: 'ok' }), 1);
  t.is(value(families, 'modelshare_last_successful_backup_timestamp_seconds'), Date.parse('2026-12-01T03:00:00Z') / 1000);
  t.is(value(families, 'modelshare_sign_ins_total', { outcome: 'denied' }), 1);
  t.true(value(families, 'modelshare_database_bytes') > 0);
  t.is(value(families, 'modelshare_blob_store_bytes'), baseline.length + packet.length);
  t.true(value(families, 'modelshare_data_dir_free_bytes') > 0);
  t.true(value(families, 'process_resident_memory_bytes') > 0);
  t.true(Number.isFinite(value(families, 'nodejs_eventloop_lag_seconds')));
});

test('the certificate expiry is exported with managed TLS', async (t) => {
  const server = await startServer(t, { MODELSHARE_METRICS_TOKEN: token });
  const families = parsePrometheusTextFormat((await scrape(server)).text);
  t.is(value(families, 'modelshare_certificate_expiry_timestamp_seconds') * 1000, Date.parse(server.tls!.status().not_after));
});
