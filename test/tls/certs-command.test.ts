/**
 * The operator's side: `npm start`'s HTTPS and its CA fingerprint, `certs show`, and the
 * corporate-CA flow (`certs csr`, signing by a CA, `certs import`, csr mode), through the real command.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { testCa, testLeaf } from '../helpers/certificates.ts';
import { openssl, trustingFetch } from '../helpers/https.ts';
import { runCommand, spawnServer } from '../helpers/spawn.ts';
import { tmpDir } from '../helpers/tmp.ts';

test('`serve` on defaults speaks HTTPS, logs its CA fingerprint, and `certs show` prints the same', async (t) => {
  const dir = tmpDir(t);
  const server = await spawnServer(t, { MODELSHARE_DATA_DIR: dir });
  t.regex(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  t.regex(server.caFingerprint ?? '', /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  const ready = await server.fetch(`${server.url}/readyz`);
  t.is(ready.status, 200);
  t.like(await ready.json(), { checks: { tls: 'ok' }, tls: { mode: 'managed', warning: null } });

  const shown = runCommand(['certs', 'show'], { MODELSHARE_DATA_DIR: dir, MODELSHARE_LOG_LEVEL: 'warn' });
  t.is(shown.code, 0, shown.stderr);
  t.true(shown.stdout.includes(`CA SHA-256 fingerprint: ${server.caFingerprint}\n`));
  t.regex(shown.stdout, /server certificate: serial [0-9A-F]+, for localhost, 127\.0\.0\.1, valid until \d{4}-/);

  // What the README tells an operator to run.
  if (spawnSync('curl', ['--version']).status === 0) {
    const caFile = path.join(dir, 'ca-copy.pem');
    fs.writeFileSync(caFile, server.ca!);
    const curl = spawnSync('curl', ['--silent', '--fail', '--cacert', caFile, `${server.url}/healthz`], { encoding: 'utf8' });
    t.like(JSON.parse(curl.stdout || '{}'), { status: 'ok' }, curl.stderr);
  }
  server.child.kill('SIGTERM');
  t.deepEqual(await server.exited, { code: 0, signal: null });
});

test('csr flow: `certs csr`, signed by a corporate CA, `certs import`, served in csr mode', async (t) => {
  const dir = tmpDir(t);
  const env = { MODELSHARE_DATA_DIR: dir, MODELSHARE_LOG_LEVEL: 'warn', MODELSHARE_TLS_NAMES: 'localhost,models.corp.example' };
  // Without an imported certificate, csr mode stops the start and says what to do.
  const early = runCommand(['serve'], { ...env, MODELSHARE_TLS_MODE: 'csr' });
  t.is(early.code, 1);
  t.regex(early.stderr, /tls\.mode is csr, but no certificate has been imported: run `modelshare certs csr`/);
  t.regex(runCommand(['certs', 'import', path.join(dir, 'x.pem')], env).stderr, /x\.pem cannot be read \(ENOENT\)/);

  const csr = runCommand(['certs', 'csr'], env);
  t.is(csr.code, 0, csr.stderr);
  const csrFile = path.join(dir, 'modelshare.csr');
  t.true(csr.stdout.includes(`for localhost, models.corp.example, 127.0.0.1 to ${csrFile}`));
  const request = await openssl(['req', '-in', csrFile, '-noout', '-verify', '-text']);
  t.regex(request.output, /DNS:localhost, DNS:models\.corp\.example, IP Address:127\.0\.0\.1/);
  t.deepEqual(fs.readdirSync(dir).filter((f) => /\.(key|pem)$/.test(f)), ['master.key'], 'the TLS key is not written out');

  // The corporate CA signs the request.
  const caKey = path.join(dir, 'corp-ca.key');
  const caCert = path.join(dir, 'corp-ca.pem');
  t.is((await openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', caKey, '-out', caCert, '-days', '30', '-subj', '/CN=Corp Test CA'])).code, 0);
  const signed = path.join(dir, 'signed.pem');
  const signing = await openssl(['x509', '-req', '-in', csrFile, '-CA', caCert, '-CAkey', caKey, '-CAcreateserial', '-days', '30', '-copy_extensions', 'copyall', '-out', signed]);
  t.is(signing.code, 0, signing.output);

  // A certificate for some other key is refused, naming the problem.
  const other = path.join(dir, 'other.pem');
  fs.writeFileSync(other, (await testLeaf(await testCa())).certPem);
  const refused = runCommand(['certs', 'import', other], env);
  t.is(refused.code, 1);
  t.regex(refused.stderr, /does not match the key of the certificate request/);

  fs.appendFileSync(signed, fs.readFileSync(caCert)); // a chain: server certificate, then its CA
  const imported = runCommand(['certs', 'import', signed], env);
  t.is(imported.code, 0, imported.stderr);
  t.regex(imported.stdout, /^installed: serial [0-9A-F]+, for localhost, models\.corp\.example, 127\.0\.0\.1, valid until/);
  t.regex(imported.stdout, /tls\.mode is managed: set it to csr/);

  const server = await spawnServer(t, { ...env, MODELSHARE_LOG_LEVEL: 'info', MODELSHARE_TLS_MODE: 'csr' });
  const port = new URL(server.url).port;
  for (const name of ['localhost', 'models.corp.example']) {
    const verified = await openssl(['s_client', '-connect', `127.0.0.1:${port}`, '-servername', name, '-verify_hostname', name, '-CAfile', caCert, '-verify_return_error', '-brief']);
    t.is(verified.code, 0, verified.output);
  }
  const fetch = trustingFetch(t, fs.readFileSync(caCert, 'utf8'));
  t.is((await fetch(`${server.url}/ca.pem`)).status, 404);
  const shown = runCommand(['certs', 'show'], { ...env, MODELSHARE_TLS_MODE: 'csr' });
  t.regex(shown.stdout, /mode: csr\nimported certificate: serial [0-9A-F]+, for localhost, models\.corp\.example, 127\.0\.0\.1/);
});

test('`certs` subcommands each have --help', (t) => {
  for (const sub of ['show', 'csr', 'import']) {
    const help = runCommand(['certs', sub, '--help']);
    t.is(help.code, 0);
    t.regex(help.stdout, new RegExp(`^Usage: modelshare certs ${sub}`));
  }
});
