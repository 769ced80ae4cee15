/**
 * Managed mode: the internal CA, the certificate it issues for every configured name and address,
 * renewal with a hot swap, and the CA key kept out of the data directory in plaintext.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import test from 'ava';
import { loadConfig } from '../../src/config/load.ts';
import { open } from '../../src/crypto/sealed.ts';
import { createLogger } from '../../src/log.ts';
import { authorityKeyPlace, certificateKeyPlace, TlsRepo } from '../../src/tls/repo.ts';
import { TlsService } from '../../src/tls/service.ts';
import { openssl, servedCertificate } from '../helpers/https.ts';
import { logCollector, startServer, testClock } from '../helpers/server.ts';
import { openTestStores } from '../helpers/stores.ts';
import { filesUnder, tmpDir } from '../helpers/tmp.ts';

const day = 86_400_000;

test('openssl verifies the server with the served /ca.pem for every configured name and IP, and nothing else', async (t) => {
  const server = await startServer(t, { MODELSHARE_TLS_NAMES: 'localhost,models.example.internal', MODELSHARE_TLS_IP_ADDRESSES: '127.0.0.1,10.20.30.40,::1' });
  const res = await server.fetch(`${server.url}/ca.pem`);
  t.is(res.status, 200);
  t.is(res.headers.get('content-type'), 'application/x-pem-file');
  const caFile = path.join(tmpDir(t), 'ca.pem');
  fs.writeFileSync(caFile, await res.text());

  const connect = ['s_client', '-connect', `127.0.0.1:${server.port}`, '-CAfile', caFile, '-verify_return_error', '-brief'];
  for (const name of ['localhost', 'models.example.internal']) {
    const result = await openssl([...connect, '-servername', name, '-verify_hostname', name]);
    t.is(result.code, 0, `${name}: ${result.output}`);
    t.regex(result.output, /Verification: OK/, name);
  }
  for (const ip of ['127.0.0.1', '10.20.30.40', '::1']) {
    const result = await openssl([...connect, '-verify_ip', ip]);
    t.is(result.code, 0, `${ip}: ${result.output}`);
  }
  // A name or address the certificate is not for is refused.
  t.not((await openssl([...connect, '-verify_hostname', 'elsewhere.example'])).code, 0);
  t.not((await openssl([...connect, '-verify_ip', '10.20.30.41'])).code, 0);
  // The fingerprint openssl computes is the one the server reports for pinning.
  const fingerprint = await openssl(['x509', '-in', caFile, '-noout', '-fingerprint', '-sha256']);
  t.is(fingerprint.output.trim().replace(/^sha256 Fingerprint=/i, ''), server.tls!.status().ca_fingerprint!);
});

test('HTTPS responses carry HSTS', async (t) => {
  const server = await startServer(t);
  const res = await server.fetch(`${server.url}/healthz`);
  t.is(res.status, 200);
  t.is(res.headers.get('strict-transport-security'), 'max-age=31536000');
});

test('renewal swaps the certificate: an open connection keeps working, new ones get the new certificate', async (t) => {
  const clock = testClock();
  const server = await startServer(t, {}, clock);
  const caFile = path.join(tmpDir(t), 'ca.pem');
  fs.writeFileSync(caFile, server.ca!);

  // A long-lived keep-alive connection, opened before the renewal.
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: server.ca });
  t.teardown(() => agent.destroy());
  const get = () =>
    new Promise<{ status: number; reused: boolean; serial: string }>((resolve, reject) => {
      const req = https.get(`${server.url}/healthz`, { agent }, (res) => {
        const serial = (res.socket as TLSSocket).getPeerCertificate().serialNumber;
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode!, reused: req.reusedSocket, serial }));
      });
      req.on('error', reject);
    });
  const first = await get();
  const before = await servedCertificate(server.port);
  t.is(first.serial, before.serialNumber);

  t.like(await server.runJob('tls-renewal'), { ok: true, outcome: `not due until ${server.tls!.status().renew_at}` });
  clock.advance(61 * day); // past two thirds of 90 days
  t.like(await server.runJob('tls-renewal'), { ok: true, outcome: 'renewed' });

  const again = await get();
  t.deepEqual(again, { status: 200, reused: true, serial: before.serialNumber });

  const after = await servedCertificate(server.port);
  t.not(after.serialNumber, before.serialNumber);
  t.true(new Date(after.validTo).getTime() - new Date(before.validTo).getTime() >= 60 * day);
  t.true(after.verify(new crypto.X509Certificate(server.ca!).publicKey));
  // Verified as a client would at the (test) time of the renewal.
  const attime = String(Math.floor(clock.now().getTime() / 1000));
  const verified = await openssl(['s_client', '-connect', `127.0.0.1:${server.port}`, '-CAfile', caFile, '-verify_return_error', '-brief', '-attime', attime, '-verify_ip', '127.0.0.1']);
  t.is(verified.code, 0, verified.output);
  t.true(server.logs.some((l) => l['msg'] === 'job ran' && l['job'] === 'tls-renewal' && l['outcome'] === 'renewed'));
  t.is(server.tls!.status().warning, null);
});

test('managed mode reports ok with its renewal time, and expiring once a renewal is overdue', async (t) => {
  const clock = testClock();
  const server = await startServer(t, {}, clock);
  const ok = (await (await server.fetch(`${server.url}/readyz`)).json()) as { checks: Record<string, string>; tls: Record<string, unknown> };
  t.is(ok.checks['tls'], 'ok');
  t.like(ok.tls, { mode: 'managed', warning: null, days_left: 89 });
  clock.advance(80 * 86_400_000); // renewal due at day 60; the job has not run
  const late = (await (await server.fetch(`${server.url}/readyz`)).json()) as { checks: Record<string, string> };
  t.is(late.checks['tls'], 'expiring');
  clock.advance(11 * 86_400_000);
  const expired = await server.fetch(`${server.url}/readyz`);
  t.is(expired.status, 503);
  t.like(await expired.json(), { checks: { tls: 'failing' } });
});

test('a restart keeps the certificate; changed names issue a new one from the same CA', async (t) => {
  const dir = tmpDir(t);
  const start = async (names: string) => {
    const { db, keys } = openTestStores(t, {}, dir);
    const config = loadConfig({ env: { MODELSHARE_DATA_DIR: dir, MODELSHARE_TLS_NAMES: names } });
    const tls = await TlsService.start({ config, db, keys, clock: testClock(), log: createLogger('info', logCollector().stream) });
    t.teardown(() => tls.close());
    return { ...tls.status(), caKey: new crypto.X509Certificate(tls.authority!.certificatePem).publicKey };
  };
  const first = await start('localhost');
  const again = await start('localhost');
  t.is(again.serial, first.serial);
  const renamed = await start('localhost,models.example.internal');
  t.not(renamed.serial, first.serial);
  t.deepEqual(renamed.names, ['localhost', 'models.example.internal', '127.0.0.1']);
  // The same CA key, with a new CA certificate constrained to the new names (see name-constraints.test.ts).
  t.true(renamed.caKey.equals(first.caKey));
  t.not(renamed.ca_fingerprint, first.ca_fingerprint);
  t.is(again.ca_fingerprint, first.ca_fingerprint);
});

test('the CA key and the server key are not on disk in plaintext', async (t) => {
  const server = await startServer(t);
  const repo = new TlsRepo(server.stores.db);
  const ca = repo.authority()!;
  const leaf = repo.certificate('managed')!;
  const keys = [open(server.stores.keys, authorityKeyPlace(ca.id), ca.key_sealed), open(server.stores.keys, certificateKeyPlace(leaf.id), leaf.key_sealed)];
  const needles = keys.flatMap((der) => {
    const key = crypto.createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    const pkcs1 = key.export({ type: 'pkcs1', format: 'der' });
    const pemLines = (key.export({ type: 'pkcs8', format: 'pem' }) as string).split('\n').filter((l) => l.length === 64);
    // The whole key in DER and PEM, and the private exponent alone (the secret inside both).
    const d = Buffer.from(key.export({ format: 'jwk' }).d!, 'base64url');
    return [der, pkcs1, d, ...pemLines.slice(1, 4).map((l) => Buffer.from(l))];
  });
  const files = filesUnder(server.dataDir);
  t.true(files.some((f) => /modelshare\.db(-wal)?$/.test(f)));
  for (const file of files) {
    const bytes = fs.readFileSync(file);
    for (const needle of needles) t.false(bytes.includes(needle), `${file} holds key material`);
  }
});
