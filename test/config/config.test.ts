import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { parseDocument } from 'yaml';
import { ConfigError, dumpConfig, envName, loadConfig } from '../../src/config/load.ts';
import { options } from '../../src/config/options.ts';
import { projectRoot } from '../helpers/spawn.ts';
import { tmpDir } from '../helpers/tmp.ts';

function problemsOf(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

function writeConfig(dir: string, text: string): string {
  const file = path.join(dir, 'modelshare.yaml');
  fs.writeFileSync(file, text);
  return file;
}

test('an unknown key is refused with its name and the file', (t) => {
  const file = writeConfig(tmpDir(t), 'server:\n  prot: 8443\n');
  t.deepEqual(problemsOf(() => loadConfig({ file, env: {} })), [`${file}: server.prot: unknown setting`]);
});

test('a wrong type is refused with the key, the file and what was expected', (t) => {
  const file = writeConfig(tmpDir(t), 'server:\n  port: eighty\ndatabase:\n  synchronous: sometimes\n');
  const problems = problemsOf(() => loadConfig({ file, env: {} }));
  t.is(problems.length, 2);
  t.regex(problems[0]!, new RegExp(`^${file}: server\\.port: expected an integer from 0 to 65535`));
  t.regex(problems[1]!, new RegExp(`^${file}: database\\.synchronous: expected one of full, normal`));
});

test('a missing secret file is refused naming the key', (t) => {
  const dir = tmpDir(t);
  const file = writeConfig(dir, `keys:\n  master_key_file: ${dir}/nope\n`);
  const problems = problemsOf(() => loadConfig({ file, env: {} }));
  t.is(problems.length, 1);
  t.true(problems[0]!.startsWith(`${file}: keys.master_key_file: the file ${dir}/nope cannot be read`));
});

test('a malformed file is refused with the line', (t) => {
  const file = writeConfig(tmpDir(t), 'server:\n  port: [1\n');
  const problems = problemsOf(() => loadConfig({ file, env: {} }));
  t.true(problems.length > 0);
  t.true(problems.every((p) => p.startsWith(`${file}: line `)));
});

test('a non-secret key has no _file variant', (t) => {
  const file = writeConfig(tmpDir(t), 'server:\n  port_file: /etc/passwd\n');
  t.deepEqual(problemsOf(() => loadConfig({ file, env: {} })), [`${file}: server.port_file: unknown setting`]);
});

test('the environment overrides the file, with types parsed from text', (t) => {
  const file = writeConfig(tmpDir(t), 'server:\n  port: 9000\nproduction: false\n');
  const config = loadConfig({ file, env: { MODELSHARE_SERVER_PORT: '9443', MODELSHARE_PRODUCTION: 'true', MODELSHARE_SERVER_SHUTDOWN_TIMEOUT: '2m' } });
  t.is(config.server.port, 9443);
  t.is(config.production, true);
  t.is(config.server.shutdown_timeout, 120_000);
});

test('an environment value of the wrong type names the variable and the key', (t) => {
  t.deepEqual(problemsOf(() => loadConfig({ env: { MODELSHARE_SERVER_PORT: '99999' } })), [
    'environment variable MODELSHARE_SERVER_PORT (server.port): expected an integer from 0 to 65535, got "99999"',
  ]);
});

test('an unknown MODELSHARE_ variable is refused', (t) => {
  t.deepEqual(problemsOf(() => loadConfig({ env: { MODELSHARE_SERVER_PROT: '1' } })), ['environment variable MODELSHARE_SERVER_PROT: unknown setting']);
});

test('a secret is read from the file its _file variable names', (t) => {
  const dir = tmpDir(t);
  fs.writeFileSync(path.join(dir, 'key'), 'c2VjcmV0\n');
  const config = loadConfig({ env: { MODELSHARE_KEYS_MASTER_KEY_FILE: path.join(dir, 'key') } });
  t.is(config.keys.master_key, 'c2VjcmV0');
});

test('a secret set twice in one source is refused', (t) => {
  const dir = tmpDir(t);
  fs.writeFileSync(path.join(dir, 'key'), 'a');
  const problems = problemsOf(() => loadConfig({ env: { MODELSHARE_KEYS_MASTER_KEY: 'b', MODELSHARE_KEYS_MASTER_KEY_FILE: path.join(dir, 'key') } }));
  t.is(problems.length, 1);
  t.regex(problems[0]!, /^keys\.master_key: set both by/);
});

test('paths default under data_dir', (t) => {
  const config = loadConfig({ env: { MODELSHARE_DATA_DIR: '/srv/modelshare' } });
  t.is(config.database.path, '/srv/modelshare/modelshare.db');
  t.is(config.keys.key_file, '/srv/modelshare/master.key');
});

test('the dump never shows a secret', (t) => {
  const config = loadConfig({ env: { MODELSHARE_KEYS_MASTER_KEY: 'very-secret-value' } });
  const dump = dumpConfig(config).join('\n');
  t.false(dump.includes('very-secret-value'));
  t.regex(dump, /keys\.master_key = \(set, hidden\)/);
});

test('the example config documents every key, and loads', (t) => {
  const file = path.join(projectRoot, 'config/modelshare.example.yaml');
  const example = parseDocument(fs.readFileSync(file, 'utf8')).toJS() as Record<string, unknown>;
  const keys = (table: object, prefix = ''): string[] =>
    Object.entries(table).flatMap(([k, v]) => ((v as { kind?: string }).kind === 'option' ? [prefix + k] : keys(v as object, `${prefix}${k}.`)));
  const text = fs.readFileSync(file, 'utf8');
  for (const key of keys(options)) {
    const leaf = key.split('.').at(-1)!;
    t.true(new RegExp(`^\\s*#?\\s*${leaf}(_file)?:`, 'm').test(text), `${key} is not documented in the example`);
    t.truthy(envName(key));
  }
  t.truthy(example);
  t.notThrows(() => loadConfig({ file, env: {} }));
});

test('an issuer keeps its trailing slash (compared exactly, as Authentik and Entra ID v1 state it); public_url drops it', (t) => {
  const providers = [
    { id: 'authentik', issuer: 'https://auth.firm.example/application/o/modelshare/', client_id: 'a' },
    { id: 'entra', issuer: 'https://sts.windows.net/3f1c1c1e-6f0e-4c53-9d59-4c0d7b8e2a10/', client_id: 'b' },
    { id: 'keycloak', issuer: 'https://login.firm.example/realms/firm', client_id: 'c' },
  ];
  const config = loadConfig({ env: { MODELSHARE_AUTH_PROVIDERS: JSON.stringify(providers), MODELSHARE_PUBLIC_URL: 'https://models.firm.example/' } });
  t.deepEqual(config.auth.providers.map((p) => p.issuer), providers.map((p) => p.issuer));
  t.is(config.public_url, 'https://models.firm.example');
});
