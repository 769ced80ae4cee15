/**
 * Files mode: an admin-supplied chain and key, checked at start (a bad pair stops the start with a
 * message that says which), reloaded when they change (a bad pair then keeps the old one and logs),
 * and an expiring certificate shown on /readyz and in the log.
 */
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { testCa, testLeaf, writePair } from '../helpers/certificates.ts';
import { eventually } from '../helpers/eventually.ts';
import { servedCertificate, trustingFetch } from '../helpers/https.ts';
import { startServer } from '../helpers/server.ts';
import { tmpDir } from '../helpers/tmp.ts';

const filesEnv = (files: { certFile: string; keyFile: string }) => ({
  MODELSHARE_TLS_MODE: 'files',
  MODELSHARE_TLS_CERT_FILE: files.certFile,
  MODELSHARE_TLS_KEY_FILE: files.keyFile,
});

test('a start with a bad pair stops with a message that says what is wrong', async (t) => {
  const ca = await testCa();
  const [a, b] = [await testLeaf(ca), await testLeaf(ca)];
  const dir = tmpDir(t);
  const mismatched = writePair(dir, { certPem: a.certPem, keyPem: b.keyPem });
  await t.throwsAsync(startServer(t, filesEnv(mismatched)), {
    name: 'TlsError',
    message: `TLS (files mode): the key in tls.key_file (${mismatched.keyFile}) does not match the certificate in tls.cert_file (${mismatched.certFile}) (they are not a pair)`,
  });

  const expired = writePair(tmpDir(t), await testLeaf(ca, { fromDays: -100, toDays: -1 }));
  await t.throwsAsync(startServer(t, filesEnv(expired)), { message: new RegExp(`^TLS \\(files mode\\): the certificate in tls\\.cert_file \\(${expired.certFile}\\) expired on \\d{4}-`) });

  const missing = { certFile: path.join(dir, 'nope.crt'), keyFile: mismatched.keyFile };
  await t.throwsAsync(startServer(t, filesEnv(missing)), { message: `TLS (files mode): tls.cert_file (${missing.certFile}) cannot be read (ENOENT)` });

  await t.throwsAsync(startServer(t, { MODELSHARE_TLS_MODE: 'files' }), { message: 'tls.mode is files, but tls.cert_file and tls.key_file are not set' });
});

test('files mode reloads a changed pair without a restart, and keeps the old one when the new pair does not match', async (t) => {
  const ca = await testCa();
  const first = await testLeaf(ca);
  const files = writePair(tmpDir(t), first);
  const server = await startServer(t, filesEnv(files));
  const fetch = trustingFetch(t, ca.certificatePem);
  t.is((await fetch(`${server.url}/healthz`)).status, 200);
  const firstSerial = (await servedCertificate(server.port)).serialNumber;

  const second = await testLeaf(ca);
  writePair(path.dirname(files.certFile), second);
  await eventually(() => server.logs.some((l) => l['msg'] === 'reloaded the certificate files'), 'the reload');
  const secondSerial = (await servedCertificate(server.port)).serialNumber;
  t.not(secondSerial, firstSerial);
  t.is((await fetch(`${server.url}/healthz`)).status, 200);

  // A new certificate without its key: logged, and the second pair stays in use.
  fs.writeFileSync(files.certFile, (await testLeaf(ca)).certPem);
  await eventually(() => server.logs.some((l) => l['level'] === 'error' && /does not match/.test(String(l['problem']))), 'the error');
  t.is((await servedCertificate(server.port)).serialNumber, secondSerial);
  t.like(await server.runJob('tls-renewal'), { ok: true, outcome: `kept the previous certificate: the key in tls.key_file (${files.keyFile}) does not match the certificate in tls.cert_file (${files.certFile}) (they are not a pair)` });
  t.is((await fetch(`${server.url}/readyz`)).status, 200);
});

test('a certificate that expires within 30 days is a warning on /readyz and in the log', async (t) => {
  const ca = await testCa();
  const files = writePair(tmpDir(t), await testLeaf(ca, { toDays: 10.5 }));
  const server = await startServer(t, filesEnv(files));
  const res = await trustingFetch(t, ca.certificatePem)(`${server.url}/readyz`);
  t.is(res.status, 200);
  const body = (await res.json()) as { checks: Record<string, string>; tls: Record<string, unknown> };
  t.is(body.checks['tls'], 'expiring');
  t.like(body.tls, { mode: 'files', days_left: 10, warning: 'expiring' });
  t.true(server.logs.some((l) => l['level'] === 'warn' && l['msg'] === 'the server certificate expires in 10 day(s)'));
});
