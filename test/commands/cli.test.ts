import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { projectRoot, runCommand, spawnServer } from '../helpers/spawn.ts';
import { tmpDir } from '../helpers/tmp.ts';

test('`modelshare --help` lists the commands, and each has its own --help', (t) => {
  const help = runCommand(['--help']);
  t.is(help.code, 0);
  for (const name of ['serve', 'migrate', 'config check', 'keys status', 'keys rotate', 'keys retire', 'certs show', 'certs csr', 'certs import']) t.true(help.stdout.includes(`  ${name} `), name);
  const keysHelp = runCommand(['keys', 'rotate', '--help']);
  t.is(keysHelp.code, 0);
  t.regex(keysHelp.stdout, /^Usage: modelshare keys rotate/);
});

test('an unknown command or option is refused with exit code 2 or 1 and a message', (t) => {
  const unknown = runCommand(['frobnicate']);
  t.is(unknown.code, 2);
  t.regex(unknown.stderr, /unknown command "frobnicate"/);
  const badOption = runCommand(['migrate', '--nope']);
  t.is(badOption.code, 1);
  t.regex(badOption.stderr, /--nope/);
});

test('`config check` names the key and the file of each problem, and exits 1', (t) => {
  const dir = tmpDir(t);
  const file = path.join(dir, 'bad.yaml');
  fs.writeFileSync(file, 'server:\n  port: 70000\ndatabse:\n  path: x\n');
  const result = runCommand(['config', 'check', file]);
  t.is(result.code, 1);
  t.true(result.stderr.includes(`${file}: server.port: expected an integer from 0 to 65535, got 70000`));
  t.true(result.stderr.includes(`${file}: databse: unknown setting`));
});

test('`config check` prints every setting of a valid file with secrets hidden', (t) => {
  const dir = tmpDir(t);
  const file = path.join(dir, 'good.yaml');
  fs.writeFileSync(file, `data_dir: ${dir}\nkeys:\n  master_key: c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI=\n`);
  const result = runCommand(['config', 'check', file]);
  t.is(result.code, 0, result.stderr);
  t.regex(result.stdout, /the configuration is valid/);
  t.regex(result.stdout, /server\.port = 8443/);
  t.false(result.stdout.includes('c2VjcmV0'));
});

test('`serve` with a broken config stops before serving, naming the key', (t) => {
  const result = runCommand(['serve'], { MODELSHARE_DATA_DIR: tmpDir(t), MODELSHARE_DATABASE_SYNCHRONOUS: 'maybe' });
  t.is(result.code, 1);
  t.regex(result.stderr, /MODELSHARE_DATABASE_SYNCHRONOUS \(database\.synchronous\): expected one of full, normal/);
});

test('`migrate` applies the migrations without serving, once', (t) => {
  const dir = tmpDir(t);
  const first = runCommand(['migrate'], { MODELSHARE_DATA_DIR: dir });
  t.is(first.code, 0, first.stderr);
  t.regex(first.stdout, /^applied: 0001-keys-and-blobs\.sql/);
  t.is(runCommand(['migrate'], { MODELSHARE_DATA_DIR: dir }).stdout, 'the database is up to date\n');
});

test('`serve` stops cleanly on SIGTERM', async (t) => {
  const server = await spawnServer(t, { MODELSHARE_DATA_DIR: tmpDir(t) });
  t.is((await server.fetch(`${server.url}/healthz`)).status, 200);
  // The first log line names the version.
  const version = (JSON.parse(fs.readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as { version: string }).version;
  t.like(JSON.parse(server.output().split('\n')[0]!), { level: 'info', version, msg: `modelshare ${version} starting` });
  server.child.kill('SIGTERM');
  t.deepEqual(await server.exited, { code: 0, signal: null });
  t.regex(server.output(), /"msg":"stopped"/);
});

test('`config check` refuses what `serve` refuses: an http issuer, the demo beside a provider, production with no provider', (t) => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ MODELSHARE_AUTH_PROVIDERS: JSON.stringify([{ id: 'corp', issuer: 'http://idp.firm.example/realms/x', client_id: 'x' }]) }, /auth\.providers\[0\]\.issuer: must be an https URL/],
    [{ MODELSHARE_DEMO_ENABLED: 'on', MODELSHARE_AUTH_PROVIDERS: JSON.stringify([{ id: 'corp', issuer: 'https://idp.firm.example/', client_id: 'x' }]) }, /demo\.enabled is on, but auth\.providers configures a real provider/],
    [{ MODELSHARE_PRODUCTION: 'true' }, /production is true, but auth\.providers is empty/],
  ];
  for (const [env, problem] of cases) {
    const dir = tmpDir(t);
    const check = runCommand(['config', 'check'], { MODELSHARE_DATA_DIR: dir, ...env });
    t.is(check.code, 1, problem.source);
    t.regex(check.stderr, problem);
    const serve = runCommand(['serve'], { MODELSHARE_DATA_DIR: dir, MODELSHARE_SERVER_PORT: '0', ...env });
    t.is(serve.code, 1, problem.source);
    t.regex(serve.stderr, problem);
    // Refused before anything was opened or created.
    t.deepEqual(fs.readdirSync(dir), []);
  }
});

test('`modelshare --version` prints the version; read-only and informational commands print no oidc-provider warning', (t) => {
  const pkg = JSON.parse(fs.readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as { version: string };
  const shown = runCommand(['--version']);
  t.is(shown.code, 0);
  t.is(shown.stdout, `modelshare ${pkg.version}\n`);
  const dir = tmpDir(t);
  t.is(runCommand(['migrate'], { MODELSHARE_DATA_DIR: dir }).code, 0);
  for (const args of [['--version'], ['--help'], ['config', 'check'], ['keys', 'status'], ['certs', 'show'], ['migrate']]) {
    const result = runCommand(args, { MODELSHARE_DATA_DIR: dir });
    t.notRegex(result.stdout + result.stderr, /oidc-provider/, args.join(' '));
  }
});

test('logs are readable lines on a terminal or with log.format pretty, JSON lines otherwise', (t) => {
  const env = (extra: Record<string, string> = {}) => ({ MODELSHARE_DATA_DIR: tmpDir(t), ...extra });
  const args = ['admin', 'token', '--email', 'it@firm.example'];
  // Piped (as under journald or Docker): JSON, one object a line.
  const piped = runCommand(args, env());
  t.is(piped.code, 0, piped.stderr);
  const jsonLines = piped.stderr.split('\n').filter((l) => l.startsWith('{'));
  t.true(jsonLines.some((l) => (JSON.parse(l) as { msg: string }).msg.startsWith('CREATED A NEW MASTER KEY FILE')));
  // Asked for: readable lines, with the level as a word and no JSON objects.
  const pretty = runCommand(args, env({ MODELSHARE_LOG_FORMAT: 'pretty' }));
  t.is(pretty.code, 0, pretty.stderr);
  t.regex(pretty.stderr, /^\[\d\d:\d\d:\d\d\.\d{3}\] WARN: CREATED A NEW MASTER KEY FILE/m);
  t.false(pretty.stderr.split('\n').some((l) => l.startsWith('{"level"')));
  // On a terminal (a pseudo-terminal made by script(1)), auto is readable too.
  const dir = tmpDir(t);
  const command = [process.execPath, '--import', 'tsx', path.join(projectRoot, 'src/main.ts'), ...args].map((a) => `'${a}'`).join(' ');
  const tty = spawnSync('script', ['-qec', command, '/dev/null'], { cwd: projectRoot, env: { ...process.env, MODELSHARE_DATA_DIR: dir }, encoding: 'utf8' });
  t.is(tty.status, 0, tty.stdout);
  t.regex(tty.stdout, /WARN.*: .*CREATED A NEW MASTER KEY FILE/);
  t.false(tty.stdout.includes('{"level"'));
});

test('the settings file of the README\'s Docker setup passes `config check`, as its step 4 runs it', (t) => {
  const readme = fs.readFileSync(path.join(projectRoot, 'README.md'), 'utf8');
  const docker = readme.slice(readme.indexOf('### Install with Docker'), readme.indexOf('### Install with systemd'));
  const yaml = /```yaml\n([\s\S]*?)```/.exec(docker)![1]!.replace(/^ {3}/gm, '');
  const dir = tmpDir(t);
  const secret = path.join(dir, 'oidc_client_secret');
  fs.writeFileSync(secret, 'client-secret-from-the-provider\n');
  const file = path.join(dir, 'modelshare.yaml');
  fs.writeFileSync(file, yaml.replace('/run/secrets/oidc_client_secret', secret));
  // The image's environment: listening on every interface, data in the volume.
  const check = runCommand(['config', 'check'], { MODELSHARE_CONFIG: file, MODELSHARE_DATA_DIR: dir, MODELSHARE_SERVER_HOST: '0.0.0.0' });
  t.is(check.code, 0, check.stderr);
  t.regex(check.stdout, /public_url = "https:\/\/models\.firm\.example"/);
  t.regex(check.stdout, /auth\.providers\[0\]\.client_secret = \(set, hidden\)/);
  t.false(check.stdout.includes('client-secret-from-the-provider'));
});
