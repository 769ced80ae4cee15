/**
 * Issue 14, hole 3: a default `docker run` must let nobody in. The image listens on 0.0.0.0 with no
 * sign-in provider; the demo sign-in (whose Ada is a server admin) runs only on loopback, or when
 * `demo.enabled: on` says so explicitly, and then warns in the log and on every page.
 */
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { projectRoot, runCommand, spawnServer } from '../helpers/spawn.ts';
import { tmpDir } from '../helpers/tmp.ts';

/** The environment the Dockerfile's runtime stage sets (its ENV lines), read from the Dockerfile itself. */
function imageEnvironment(): Record<string, string> {
  const dockerfile = fs.readFileSync(path.join(projectRoot, 'Dockerfile'), 'utf8');
  const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
  const block = /\nENV ((?:[^\n]*\\\n)*[^\n]*)/.exec(runtime)![1]!;
  return Object.fromEntries([...block.replaceAll('\\\n', ' ').matchAll(/([A-Z_]+)=(\S+)/g)].map((m) => [m[1]!, m[2]!]));
}

/** The settings file the image starts with: the Dockerfile writes one of comments only. */
function imageSettingsFile(dir: string): string {
  const file = path.join(dir, 'modelshare.yaml');
  fs.writeFileSync(file, '# Modelshare settings for this container\n');
  return file;
}

test('the Docker image on its own settings, listening on 0.0.0.0, lets nobody sign in and says how to set up', async (t) => {
  const image = imageEnvironment();
  t.is(image['MODELSHARE_SERVER_HOST'], '0.0.0.0');
  const dir = tmpDir(t);
  const env = { ...image, MODELSHARE_CONFIG: imageSettingsFile(dir), MODELSHARE_DATA_DIR: path.join(dir, 'data') };
  const server = await spawnServer(t, env);
  t.notRegex(server.output(), /DEMO SIGN-IN PROVIDER IS RUNNING/);
  t.regex(server.output(), /"level":"warn".*No sign-in provider is configured, so nobody can sign in yet/);

  // Refusals first: no sign-in path, no demo provider, no API without a token.
  const login = await server.fetch(`${server.url}/auth/login`, { redirect: 'manual' });
  t.is(login.status, 503);
  t.regex(await login.text(), /No sign-in provider is configured/);
  t.is((await server.fetch(`${server.url}/auth/login/demo`, { redirect: 'manual' })).status, 404);
  t.is((await server.fetch(`${server.url}/demo/.well-known/openid-configuration`)).status, 404);
  t.is((await server.fetch(`${server.url}/api/v1/me`)).status, 401);
  const home = await server.fetch(`${server.url}/`);
  const page = await home.text();
  t.is(home.status, 200);
  t.regex(page, /No sign-in provider is configured/);
  t.regex(page, /auth\.providers/);
  t.regex(page, /modelshare admin token/);
  t.notRegex(page, /DEMO/);

  // `modelshare admin token` serves for setting up, as the page says.
  const issued = runCommand(['admin', 'token', '--email', 'it@firm.example'], { ...env, MODELSHARE_LOG_LEVEL: 'warn' });
  t.is(issued.code, 0, issued.stderr);
  const me = await server.fetch(`${server.url}/api/v1/me`, { headers: { authorization: `Bearer ${issued.stdout.trim()}` } });
  t.is(me.status, 200);
  t.like(await me.json(), { email: 'it@firm.example', server_admin: true });
  server.child.kill('SIGTERM');
  await server.exited;
});

test('demo.enabled: on, on an address others reach, warns in the log and on every page', async (t) => {
  const server = await spawnServer(t, { MODELSHARE_DATA_DIR: tmpDir(t), MODELSHARE_SERVER_HOST: '0.0.0.0', MODELSHARE_DEMO_ENABLED: 'on' });
  t.regex(server.output(), /DEMO SIGN-IN PROVIDER IS RUNNING/);
  t.regex(server.output(), /"level":"warn".*DEMO SIGN-IN ON 0\.0\.0\.0: anyone who can reach this server can sign in/);
  // Every page is framed by page(), whose banner marks the demo; the home page is one of them.
  t.regex(await (await server.fetch(`${server.url}/`)).text(), /DEMO SIGN-IN: for evaluation only/);
  server.child.kill('SIGTERM');
  await server.exited;
});

test('on loopback with no provider the demo runs as before (evaluation on one machine)', async (t) => {
  const server = await spawnServer(t, { MODELSHARE_DATA_DIR: tmpDir(t) });
  t.regex(server.output(), /DEMO SIGN-IN PROVIDER IS RUNNING/);
  t.notRegex(server.output(), /DEMO SIGN-IN ON/);
  server.child.kill('SIGTERM');
  await server.exited;
});
