import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { issueServerCertificate, type SubjectNames } from '../../src/tls/forge.ts';
import { generateRsaKeyPair } from '../../src/tls/keypair.ts';
import { constrainedTo, loadOrCreateAuthority } from '../../src/tls/managed.ts';
import { TlsRepo } from '../../src/tls/repo.ts';
import { openssl } from '../helpers/https.ts';
import { testClock } from '../helpers/server.ts';
import { openTestStores } from '../helpers/stores.ts';
import { tmpDir } from '../helpers/tmp.ts';

const configured: SubjectNames = { dns: ['models.firm.example', 'localhost'], ips: ['192.0.2.10'] };

async function authorityFor(t: Parameters<typeof openTestStores>[0], names: SubjectNames, stores = openTestStores(t)) {
  // The log lines land where the stores' own do, so a test can read the warning.
  const log = { info: () => undefined, warn: (fields: object, msg: string) => stores.logs.push({ msg, ...fields }) };
  return { stores, ca: await loadOrCreateAuthority({ repo: new TlsRepo(stores.db), keys: stores.keys, clock: testClock(), log: log as never }, names) };
}

async function leafFor(ca: { certificatePem: string; keyPem: string }, names: SubjectNames) {
  const key = await generateRsaKeyPair(2048);
  const now = Date.now();
  return issueServerCertificate({
    caCertificatePem: ca.certificatePem,
    caKeyPem: ca.keyPem,
    publicKeyPem: key.publicKeyPem,
    names,
    validity: { notBefore: new Date(now - 3_600_000), notAfter: new Date(now + 86_400_000) },
  });
}

test('the internal CA may vouch only for the configured names: openssl refuses a certificate for another', async (t) => {
  const { ca } = await authorityFor(t, configured);
  const dir = tmpDir(t);
  const write = (name: string, pem: string) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, pem);
    return file;
  };
  const caFile = write('ca.pem', ca.certificatePem);
  const text = await openssl(['x509', '-in', caFile, '-noout', '-text']);
  t.regex(text.output, /X509v3 Name Constraints: critical\s+Permitted:\s+DNS:localhost\s+DNS:models\.firm\.example\s+IP:192\.0\.2\.10\/255\.255\.255\.255/);

  const verify = async (names: SubjectNames) => openssl(['verify', '-CAfile', caFile, write(`${crypto.randomUUID()}.pem`, await leafFor(ca, names))]);
  const good = await verify(configured);
  t.is(good.code, 0, good.output);
  t.is((await verify({ dns: ['api.models.firm.example'], ips: [] })).code, 0, 'subdomains of a configured name are within it');
  for (const names of [{ dns: ['bank.example'], ips: [] }, { dns: ['localhost'], ips: ['10.0.0.1'] }, { dns: ['localhost'], ips: ['::1'] }, { dns: ['firm.example'], ips: [] }]) {
    const refused = await verify(names);
    t.not(refused.code, 0, JSON.stringify(names));
    t.regex(refused.output, /(permitted|excluded) subtree violation/, JSON.stringify(names));
  }
});

test('without configured IP addresses the CA may vouch for no IP address at all', async (t) => {
  const { ca } = await authorityFor(t, { dns: ['localhost'], ips: [] });
  const dir = tmpDir(t);
  fs.writeFileSync(path.join(dir, 'ca.pem'), ca.certificatePem);
  fs.writeFileSync(path.join(dir, 'leaf.pem'), await leafFor(ca, { dns: ['localhost'], ips: ['127.0.0.1'] }));
  const refused = await openssl(['verify', '-CAfile', path.join(dir, 'ca.pem'), path.join(dir, 'leaf.pem')]);
  t.not(refused.code, 0);
  t.regex(refused.output, /excluded subtree violation/);
});

test('changed names give the same CA key a new certificate constrained to them; earlier leaves still chain', async (t) => {
  const first = await authorityFor(t, configured);
  const leaf = new crypto.X509Certificate(await leafFor(first.ca, configured));
  const wider = { ...configured, dns: [...configured.dns, 'models.partner.example'] };
  const { ca } = await authorityFor(t, wider, first.stores);
  t.is(ca.id, first.ca.id);
  t.not(ca.fingerprint, first.ca.fingerprint);
  t.true(constrainedTo(ca.certificatePem, wider));
  t.false(constrainedTo(ca.certificatePem, configured));
  const cert = new crypto.X509Certificate(ca.certificatePem);
  t.true(cert.publicKey.equals(new crypto.X509Certificate(first.ca.certificatePem).publicKey));
  t.true(leaf.verify(cert.publicKey) && leaf.checkIssued(cert));
  t.true(first.stores.logs.some((l) => String(l['msg']).includes('the internal CA has a new certificate')));
  // Same names again: the stored certificate is kept.
  t.is((await authorityFor(t, wider, first.stores)).ca.fingerprint, ca.fingerprint);
});
