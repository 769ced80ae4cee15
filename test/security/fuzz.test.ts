/**
 * A fuzz of malformed and hostile requests over every route of the table, sent byte by byte over
 * real TLS sockets: oversized chunked bodies without signing in, truncated and lying bodies, broken
 * JSON and forms, path and query tricks, bogus and forged credentials, odd methods and headers. The
 * server must never exit (this process would die with it), never hang, never answer 5xx, and the
 * data the refused requests touch must be exactly as before.
 */
import crypto from 'node:crypto';
import tls from 'node:tls';
import test from 'ava';
import type { AnyRoute } from '../../src/http/route-table.ts';
import { person } from '../helpers/people.ts';
import type { TestServer } from '../helpers/server.ts';
import { signInWorld } from '../helpers/sign-in.ts';

interface Probe {
  method: string;
  path: string;
  headers: Record<string, string>;
  /** Body chunks; `chunked` sends them with Transfer-Encoding: chunked. */
  body?: Buffer[];
  chunked?: boolean;
  /** Ends the connection after the body without finishing it (truncated upload). */
  truncate?: boolean;
}

/** Sends one raw request; resolves with the status, 0 when the server closed without one, or 'hang'. */
function send(server: TestServer, probe: Probe): Promise<number | 'hang'> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port: server.port, ca: server.ca, servername: 'localhost' });
    let answered = false;
    let received = '';
    const done = (result: number | 'hang') => {
      if (answered) return;
      answered = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => done('hang'), 20_000);
    socket.on('error', () => done(0));
    socket.on('close', () => done(0));
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      const match = /^HTTP\/1\.1 (\d{3})/.exec(received);
      if (match) done(Number(match[1]));
    });
    socket.on('secureConnect', async () => {
      const headers: Record<string, string> = { host: 'localhost', connection: 'close', ...probe.headers };
      if (probe.body && probe.chunked) headers['transfer-encoding'] = 'chunked';
      else if (probe.body && !('content-length' in headers)) headers['content-length'] = String(probe.body.reduce((n, b) => n + b.length, 0));
      socket.write(`${probe.method} ${probe.path} HTTP/1.1\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`, 'latin1');
      for (const chunk of probe.body ?? []) {
        if (answered) return;
        const framed = probe.chunked ? Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]) : chunk;
        if (!socket.write(framed)) await new Promise((r) => socket.once('drain', r));
      }
      if (probe.truncate) return void socket.end();
      if (probe.chunked && !answered) socket.write('0\r\n\r\n');
    });
  });
}

function stateOf(server: TestServer): Record<string, string> {
  const db = server.stores.db;
  // Public routes may act for anyone (a device login started with a valid body); the audit log and
  // token use notes grow on purpose. Everything else must stay as it was.
  const skip = new Set(['audit_events', 'sessions', 'tokens', 'device_requests', 'login_flows']);
  const digests: Record<string, string> = {};
  for (const { name } of db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]) {
    if (skip.has(name)) continue;
    const hash = crypto.createHash('sha256');
    for (const row of db.prepare(`SELECT * FROM "${name}" ORDER BY 1`).raw().all() as unknown[][]) for (const v of row) hash.update(Buffer.isBuffer(v) ? v : String(v)).update('\0');
    digests[name] = hash.digest('hex');
  }
  return digests;
}

const mib = Buffer.alloc(1024 * 1024, 0x41);
const forgedJwt = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"sub":"root","scope":"admin"}').toString('base64url')}.`;

/** The hostile variants of one route, as `token` (valid, invalid or absent). */
function probesFor(r: AnyRoute, path: string, token: string): Probe[] {
  const auth = { authorization: `Bearer ${token}` };
  const json = (body: string | Buffer, extra: Record<string, string> = {}) => ({ method: r.method === 'GET' ? 'POST' : r.method, path, headers: { 'content-type': 'application/json', ...auth, ...extra }, body: [Buffer.isBuffer(body) ? body : Buffer.from(body)] });
  const method = r.method;
  const longId = 'a'.repeat(5000);
  return [
    // Oversized bodies, chunked and declared, signed in and not.
    { method: method === 'GET' ? 'POST' : method, path, headers: { 'content-type': 'application/json' }, body: [mib, mib, mib], chunked: true },
    { method: method === 'GET' ? 'POST' : method, path, headers: { 'content-type': 'application/json', ...auth }, body: [mib, mib], chunked: true },
    { method: method === 'GET' ? 'POST' : method, path, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: [mib, mib], chunked: true },
    { method, path, headers: { 'content-type': 'application/json', 'content-length': String(50 * 1024 * 1024), ...auth }, body: [Buffer.from('{')], truncate: true },
    // Truncated and lying bodies.
    { method: method === 'GET' ? 'POST' : method, path, headers: { 'content-type': 'application/json', 'content-length': '100', ...auth }, body: [Buffer.from('{"name":')], truncate: true },
    { method: method === 'GET' ? 'POST' : method, path, headers: { 'content-type': 'application/octet-stream', 'content-length': '100000', 'content-digest': 'sha-256=:AAAA:', ...auth }, body: [Buffer.alloc(1000)], truncate: true },
    // Broken and hostile JSON.
    json('{"name":'),
    json('[1,2,3]'),
    json('"\\ud800"'),
    json('{"name":"\\ud800x","description":"\\udc00"}'),
    json(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d])),
    json('['.repeat(20000) + ']'.repeat(20000)),
    json('{"__proto__":{"admin":true},"constructor":{"prototype":{"x":1}},"name":"p"}'),
    json(JSON.stringify({ name: 'x'.repeat(300), email: 'not-an-email', role: 'owner', scopes: ['root'], seats: -1, user_id: '../../etc/passwd' })),
    json('{"a":1}', { 'content-type': 'application/json; charset=utf-16' }),
    json('a=1&a=2&_csrf=x', { 'content-type': 'application/x-www-form-urlencoded' }),
    json('%zz=%', { 'content-type': 'application/x-www-form-urlencoded' }),
    json('<x/>', { 'content-type': 'application/xml' }),
    // Path tricks.
    { method, path: path.replace(/\/[^/]*$/, '/..%2f..%2f..%2fetc%2fpasswd'), headers: auth },
    { method, path: `${path}/%00`, headers: auth },
    { method, path: path.replace(/\/[^/]*$/, `/${longId}`), headers: auth },
    { method, path: `${path}%2e%2e/`, headers: auth },
    { method, path: path.replace(/\/[^/]*$/, '/%F0%9F%92%A9%C0%AF'), headers: auth },
    { method, path: `//${path}`, headers: auth },
    // Query tricks.
    { method, path: `${path}?limit=0x2&next=%ff%fe&after=-1&base=1e2&seq=2e0`, headers: auth },
    { method, path: `${path}?limit[]=1&limit=2&limit=3&return_to=//evil.example&user_code=${'A'.repeat(500)}`, headers: auth },
    { method, path: `${path}?${'x=1&'.repeat(2000)}`, headers: auth },
    // Credentials: bogus, forged, oversized; cookies likewise.
    { method, path, headers: { authorization: 'Bearer ' } },
    { method, path, headers: { authorization: `Bearer ${'x'.repeat(700)}` } },
    { method, path, headers: { authorization: `Bearer ${forgedJwt}` } },
    { method, path, headers: { authorization: `Bearer msa_${crypto.randomBytes(32).toString('base64url')}` } },
    { method, path, headers: { authorization: 'Basic ' + Buffer.from('admin:admin').toString('base64') } },
    { method, path, headers: { authorization: 'Bearer \u00ff\u00fe' } },
    { method, path, headers: { cookie: `__Host-ms_session=${'A'.repeat(43)}; __Host-ms_session=x` } },
    { method, path, headers: { cookie: '__Host-ms_session=../../; ms_login=%00' } },
    // Hostile headers.
    { method, path, headers: { ...auth, 'x-big': 'y'.repeat(70_000) } },
    { method, path, headers: { ...auth, range: 'bytes=abc-', 'if-range': '"zz"', 'last-event-id': '-1', 'idempotency-key': '../../x' } },
    { method, path, headers: { ...auth, range: 'bytes=999999999999-', 'last-event-id': '99999999999999999999' } },
    { method, path, headers: { ...auth, 'content-digest': 'sha-256=:!!!:, sha-512=:', 'modelshare-comment': '%E0%A4%A', 'x-request-id': '"><script>' } },
    { method, path, headers: { ...auth, 'content-type': 'application/octet-stream', 'content-digest': `sha-256=:${crypto.createHash('sha256').update('other').digest('base64')}:` }, body: [Buffer.from('these are not the bytes')] },
    // Odd methods.
    { method: 'PROPFIND', path, headers: auth },
    { method: 'TRACE', path, headers: {} },
    { method: 'OPTIONS', path, headers: auth },
  ];
}

test('2,500+ malformed and hostile requests over every route: no exit, no hang, no 5xx, nothing changed', async (t) => {
  t.timeout(600_000);
  // A real provider is configured (without one, sign-in answers 503: there is nothing to sign in with).
  const { server } = await signInWorld(t, {
    // The limits answer 429 to a flood from one address; here every probe must reach the route.
    MODELSHARE_RATE_LIMITS_PER_ADDRESS: '100000',
    MODELSHARE_RATE_LIMITS_FAILED_TOKENS: '100000',
  });
  const owner = person(server, 'Olive');
  const created = await owner.call('POST', '/api/v1/models', { json: { name: 'Fuzz target' } });
  t.is(created.status, 201, JSON.stringify(created.body));
  const modelId = String(created.body['id']);
  const before = stateOf(server);
  const pathOf = (r: AnyRoute) => r.path.replace(/:(\w+)/g, (_m, name: string) => (name === 'id' && r.path.startsWith('/api/v1/models') ? modelId : name === 'seq' ? '1' : name === 'id' ? 'x1' : owner.id));

  const statuses = new Map<number | 'hang', number>();
  const failures: string[] = [];
  let sent = 0;
  const queue: Probe[] = [];
  for (const r of server.routes) {
    queue.push(...probesFor(r, pathOf(r), 'msa_bogus'));
    // Signed in, only what is malformed for the route: a well-formed DELETE with an odd header is a
    // real delete. Calls without a body get one (and refuse it); the rest get broken bodies.
    const signedIn = probesFor(r, pathOf(r), owner.token);
    queue.push(...(r.method === 'GET' ? signedIn : signedIn.filter((p) => p.body !== undefined || (r.body !== undefined && r.body.kind !== 'stream'))));
  }
  // Two at a time: enough to interleave, gentle on a 2-core machine.
  const worker = async () => {
    for (let probe = queue.shift(); probe; probe = queue.shift()) {
      const status = await send(server, probe);
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      sent++;
      if (status === 'hang' || (typeof status === 'number' && status >= 500)) failures.push(`${probe.method} ${probe.path.slice(0, 120)} ${JSON.stringify(probe.headers).slice(0, 200)} answered ${status}`);
    }
  };
  await Promise.all([worker(), worker()]);
  t.log(`${sent} requests:`, Object.fromEntries([...statuses].sort()));
  t.true(sent >= 2500, `sent ${sent}`);
  t.deepEqual(failures.slice(0, 30), []);
  t.is(statuses.get('hang') ?? 0, 0);
  t.false(server.logs.some((l) => l['msg'] === 'request failed'), 'no request failed with an unexpected error');
  t.false(server.logs.some((l) => l['msg'] === 'request' && Number(l['status']) >= 500), 'the access log has no 5xx');
  t.deepEqual(stateOf(server), before, 'the data is as before');
  // And it still serves.
  const res = await owner.call('GET', `/api/v1/models/${modelId}`);
  t.is(res.status, 200);
});
