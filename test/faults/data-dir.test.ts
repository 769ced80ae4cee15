/**
 * The data directory disappears under a running server (an unmounted share, simulated by moving the
 * directory away, or a removed directory): /readyz fails, requests answer 503, nothing re-creates the
 * directory and nothing spins; when the same directory comes back, full service resumes.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import test from 'ava';
import { person, writeOut } from '../helpers/people.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

async function waitFor(what: string, check: () => Promise<boolean>, limitMs = 10_000) {
  const until = Date.now() + limitMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const readyStatus = async (server: TestServer) => (await server.fetch(`${server.url}/readyz`)).status;

test.serial('the data directory goes away: /readyz down, 503 for requests, no re-creation, no busy loop; back again: served', async (t) => {
  const server = await startServer(t, { MODELSHARE_STORAGE_CHECK_INTERVAL: '100ms' });
  const owner = person(server, 'Olive');
  const created = await owner.call('POST', '/api/v1/models', { json: { name: 'Bridge' } });
  const modelId = String(created.body['id']);
  const first = crypto.randomBytes(1000);
  t.is((await writeOut(owner, modelId, 0, first)).status, 201);

  // "Unmount": the directory is moved away; its files (and the server's open database) stay intact.
  const away = `${server.dataDir}.away`;
  fs.renameSync(server.dataDir, away);
  t.teardown(() => fs.rmSync(away, { recursive: true, force: true }));
  await waitFor('/readyz to fail', async () => (await readyStatus(server)) === 503);
  const ready = (await (await server.fetch(`${server.url}/readyz`)).json()) as Record<string, unknown>;
  t.like(ready, { code: 'service_unavailable', checks: { storage: 'failing' } });

  const cpuBefore = process.cpuUsage();
  const startedAt = Date.now();
  const read = await owner.call('GET', `/api/v1/models/${modelId}`);
  t.is(read.status, 503, 'a request that would read a database no one can see again');
  t.like(read.body, { code: 'service_unavailable' });
  t.truthy(read.headers.get('retry-after'));
  const write = await writeOut(owner, modelId, 1, crypto.randomBytes(10));
  t.is(write.status, 503);
  t.false(fs.existsSync(server.dataDir), 'nothing re-creates the data directory on the disk underneath');
  t.is((await server.fetch(`${server.url}/healthz`)).status, 200, 'the process is alive');
  // Serial tests, so this process's CPU time is this test's alone: an idle second, not a spinning one.
  await new Promise((r) => setTimeout(r, 1000));
  const cpu = process.cpuUsage(cpuBefore);
  const wallMs = Date.now() - startedAt;
  t.true((cpu.user + cpu.system) / 1000 < wallMs * 0.8, `no busy loop: ${(cpu.user + cpu.system) / 1000} ms of CPU in ${wallMs} ms`);
  t.true(server.logs.some((l) => l['level'] === 'error' && /data directory is gone/.test(String(l['msg']))));

  // The share is mounted again: the same directory, so service resumes by itself.
  fs.renameSync(away, server.dataDir);
  await waitFor('/readyz to recover', async () => (await readyStatus(server)) === 200);
  const again = await owner.call('GET', `/api/v1/models/${modelId}/packets/1`);
  t.is(again.status, 200);
  t.true(again.bytes.equals(first));
  t.is((await writeOut(owner, modelId, 1, crypto.randomBytes(10))).status, 201);
});

test.serial('a data directory removed and re-created empty is not taken for the real one', async (t) => {
  const server = await startServer(t, { MODELSHARE_STORAGE_CHECK_INTERVAL: '100ms' });
  const owner = person(server, 'Olive');
  fs.rmSync(server.dataDir, { recursive: true });
  fs.mkdirSync(server.dataDir);
  await waitFor('/readyz to fail', async () => (await readyStatus(server)) === 503);
  const res = await owner.call('POST', '/api/v1/models', { json: { name: 'Lost' } });
  t.is(res.status, 503);
  t.deepEqual(fs.readdirSync(server.dataDir), [], 'nothing is written into the empty directory');
});
