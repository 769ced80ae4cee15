/**
 * The `modelshare-client` command run as a person runs it (a separate process with its own config
 * dir), its device login approved in a scripted browser, and a TCP relay that can cut a connection
 * in the middle of a transfer or drop every connection, as a flaky network does.
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import type { TestAccount } from './test-provider.ts';
import { signIn, type SignInWorld } from './sign-in.ts';
import { projectRoot } from './spawn.ts';
import { tmpDir } from './tmp.ts';

const main = path.join(projectRoot, 'src/client/main.ts');

export interface Running {
  /** The next line of stdout (waits for it). */
  line(): Promise<string>;
  lines: string[];
  stderr(): string;
  exited: Promise<number | null>;
  kill(): void;
}

export interface ClientUser {
  home: string;
  /** Runs one command to its end. */
  run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }>;
  /** Starts a command that keeps running (login waiting for approval, watch). */
  start(args: string[]): Running;
}

export function clientUser(t: ExecutionContext): ClientUser {
  const home = tmpDir(t, 'modelshare-client-');
  const env = { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MODELSHARE_'))), MODELSHARE_CLIENT_HOME: home };
  const start = (args: string[]): Running => {
    const child = spawn(process.execPath, ['--import', 'tsx', main, ...args], { cwd: projectRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
    t.teardown(() => void (child.exitCode === null && child.kill('SIGKILL')));
    const lines: string[] = [];
    const waiting: ((line: string) => void)[] = [];
    let buffer = '';
    let err = '';
    let read = 0;
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      buffer += chunk;
      for (let i = buffer.indexOf('\n'); i >= 0; i = buffer.indexOf('\n')) {
        lines.push(buffer.slice(0, i));
        buffer = buffer.slice(i + 1);
        while (waiting.length && read < lines.length) waiting.shift()!(lines[read++]!);
      }
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    return {
      lines,
      stderr: () => err,
      exited,
      kill: () => void child.kill('SIGTERM'),
      line: () =>
        read < lines.length
          ? Promise.resolve(lines[read++]!)
          : new Promise((resolve, reject) => {
              waiting.push(resolve);
              void exited.then((code) => reject(new Error(`modelshare-client ${args.join(' ')} exited (${code}) before printing a line: ${err}`)));
            }),
    };
  };
  return {
    home,
    start,
    run: async (args) => {
      const running = start(args);
      const code = await running.exited;
      return { code, stdout: running.lines.join('\n'), stderr: running.stderr() };
    },
  };
}

/** `login --json` as `account`: reads the code the client prints and approves it in a browser. */
export async function clientLogin(world: SignInWorld, user: ClientUser, account: TestAccount, fingerprint: string) {
  const login = user.start(['login', '--server', world.server.url, '--fingerprint', fingerprint, '--json']);
  const shown = JSON.parse(await login.line()) as { user_code: string; verification_uri: string };
  const { browser, csrf } = await signIn(world, account);
  // The address the client printed is the server's public URL; the browser maps it to the test server.
  const confirm = await browser.request(shown.verification_uri, { form: { _csrf: csrf, user_code: shown.user_code } });
  if (confirm.status !== 200) throw new Error(`device confirm failed: ${confirm.body}`);
  await browser.request(`${shown.verification_uri}/decision`, { form: { _csrf: csrf, user_code: shown.user_code, decision: 'approve' } });
  const code = await login.exited;
  return { code, shown, done: login.lines.at(-1) ?? '', stderr: login.stderr() };
}

export interface Relay {
  url: string;
  /** Cuts the next connection that carries more than `bytes` from the server, once. */
  cutAfter(bytes: number): void;
  /**
   * Cuts the first connection that carries bytes from the server once `done()` holds (the server did
   * the work), before they reach the client, once: the client never hears the answer. Bytes sent
   * before (TLS session tickets, which a loaded server may send late) pass.
   */
  loseAnswerOnce(done: () => boolean): void;
  /** How many connections were cut. */
  cuts: number;
  /** Drops every open connection now. */
  dropAll(): void;
}

/** A TCP relay in front of `port` (TLS passes through it untouched). */
export async function startRelay(t: ExecutionContext, port: number): Promise<Relay> {
  const sockets = new Set<net.Socket>();
  let cutAt: number | undefined;
  let loseWhen: (() => boolean) | undefined;
  const relay: Relay = {
    url: '',
    cuts: 0,
    cutAfter: (bytes) => void (cutAt = bytes),
    loseAnswerOnce: (done) => void (loseWhen = done),
    dropAll: () => {
      for (const s of sockets) s.destroy();
    },
  };
  const server = net.createServer((client) => {
    const upstream = net.connect(port, '127.0.0.1');
    sockets.add(client).add(upstream);
    let down = 0;
    upstream.on('data', (chunk: Buffer) => {
      down += chunk.length;
      if ((cutAt !== undefined && down > cutAt) || loseWhen?.()) {
        if (cutAt !== undefined && down > cutAt) cutAt = undefined;
        else loseWhen = undefined;
        relay.cuts++;
        client.destroy();
        upstream.destroy();
        return;
      }
      client.write(chunk);
    });
    client.on('data', (chunk: Buffer) => upstream.write(chunk));
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    // A side that finishes (not one that breaks) has its last bytes delivered before the other is ended.
    upstream.on('end', () => client.end());
    client.on('end', () => upstream.end());
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  relay.url = `https://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  t.teardown(() => {
    relay.dropAll();
    server.close();
  });
  return relay;
}
