/**
 * Slow and stalled clients: any positive request timeout starts the server; a request whose headers
 * or body do not arrive in time gets 408 (not 400); an upload trickling a byte a second is cut off by
 * the minimum rate; a download its client stops reading is dropped by the idle timeout; and all the
 * while everyone else is served.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import test from 'ava';
import { digestHeader, person, writeOut } from '../helpers/people.ts';
import { startServer, type TestServer } from '../helpers/server.ts';
import { spawnServer } from '../helpers/spawn.ts';
import { eventually } from '../helpers/eventually.ts';
import { tmpDir } from '../helpers/tmp.ts';

/** A TLS connection to the server, trusting its CA, for requests written byte by byte. */
function connect(server: TestServer): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port: server.port, ca: server.ca, servername: 'localhost' }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Everything the server sends until it closes the connection. */
function responseOf(socket: tls.TLSSocket): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
    socket.on('error', () => undefined);
    socket.once('close', () => resolve(text));
  });
}

async function sharedModel(t: import('ava').ExecutionContext, server: TestServer) {
  const owner = person(server, 'Olive');
  const created = await owner.call('POST', '/api/v1/models', { json: { name: 'Bridge' } });
  t.is(created.status, 201);
  return { owner, modelId: String(created.body['id']) };
}

test('serve starts with a request timeout under 60 s', async (t) => {
  const spawned = await spawnServer(t, { MODELSHARE_DATA_DIR: tmpDir(t), MODELSHARE_SERVER_REQUEST_TIMEOUT: '30s', MODELSHARE_DEMO_ENABLED: 'off' });
  t.is((await spawned.fetch(`${spawned.url}/healthz`)).status, 200);
  spawned.child.kill('SIGTERM');
  t.is((await spawned.exited).code, 0);
});

test('headers that do not arrive in time get 408, not 400', async (t) => {
  const server = await startServer(t, { MODELSHARE_SERVER_HEADER_TIMEOUT: '500ms' });
  const socket = await connect(server);
  const response = responseOf(socket);
  socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n');
  const text = await response;
  t.regex(text, /^HTTP\/1\.1 408 /);
  t.regex(text, /"code":"request_timeout"/);
});

test('a 1 byte/s upload is cut off with 408 by the minimum rate, leaving nothing; others are served meanwhile', async (t) => {
  const server = await startServer(t, { MODELSHARE_SERVER_UPLOAD_MIN_RATE: '100', MODELSHARE_SERVER_UPLOAD_RATE_WINDOW: '1s', MODELSHARE_SERVER_IDLE_TIMEOUT: '30s' });
  const { owner, modelId } = await sharedModel(t, server);
  const body = crypto.randomBytes(1000);
  const socket = await connect(server);
  const response = responseOf(socket);
  socket.write(`POST /api/v1/models/${modelId}/packets?base=0 HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${owner.token}\r\n` +
    `Content-Type: application/octet-stream\r\nContent-Length: ${body.length}\r\nContent-Digest: ${digestHeader(body)}\r\n\r\n`);
  let sent = 0;
  const trickle = setInterval(() => {
    if (!socket.destroyed) socket.write(body.subarray(sent, ++sent));
  }, 1000);
  t.teardown(() => clearInterval(trickle));

  // Meanwhile another editor writes out at full speed.
  const other = await writeOut(owner, modelId, 0, crypto.randomBytes(50_000));
  t.is(other.status, 201);

  const text = await response;
  clearInterval(trickle);
  t.regex(text, /^HTTP\/1\.1 408 /);
  t.regex(text, /"code":"request_timeout"/);
  t.true(sent < 10, `cut off after ${sent} bytes`);
  await eventually(() => fs.readdirSync(path.join(server.dataDir, 'blobs', 'staging')).length === 0, 'the staging file to go');
  t.is((await owner.call('GET', `/api/v1/models/${modelId}`)).body['head'], 1);
});

test('a stalled upload gets 408 from the idle timeout', async (t) => {
  const server = await startServer(t, { MODELSHARE_SERVER_IDLE_TIMEOUT: '1s', MODELSHARE_SERVER_UPLOAD_MIN_RATE: '0' });
  const { owner, modelId } = await sharedModel(t, server);
  const socket = await connect(server);
  const response = responseOf(socket);
  socket.write(`POST /api/v1/models/${modelId}/packets?base=0 HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${owner.token}\r\n` +
    `Content-Type: application/octet-stream\r\nContent-Length: 1000\r\nContent-Digest: ${digestHeader(Buffer.alloc(1000))}\r\n\r\n0123456789`);
  const text = await response;
  t.regex(text, /^HTTP\/1\.1 408 /);
  await eventually(() => fs.readdirSync(path.join(server.dataDir, 'blobs', 'staging')).length === 0, 'the staging file to go');
});

test('a download its client stops reading is dropped by the idle timeout; others are served meanwhile', async (t) => {
  const server = await startServer(t, { MODELSHARE_SERVER_IDLE_TIMEOUT: '2s' });
  const { owner, modelId } = await sharedModel(t, server);
  const big = crypto.randomBytes(24 * 1024 * 1024);
  t.is((await writeOut(owner, modelId, 0, big)).status, 201);

  const socket = await connect(server);
  socket.write(`GET /api/v1/models/${modelId}/packets/1 HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${owner.token}\r\n\r\n`);
  socket.pause();
  t.teardown(() => socket.destroy());
  const small = crypto.randomBytes(100);
  t.is((await writeOut(owner, modelId, 1, small)).status, 201, 'served while the reader stalls');
  t.true((await owner.call('GET', `/api/v1/models/${modelId}/packets/2`)).bytes.equals(small));
  await eventually(() => server.logs.some((l) => /server\.idle_timeout/.test(String(l['msg'])) && l['response_started'] === true), 'the stalled download to be dropped', 20_000);
  t.pass();
});
