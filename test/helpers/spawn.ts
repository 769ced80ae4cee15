/**
 * Runs the `modelshare` command as a separate process, the way an operator does, for tests of the
 * command line, of signals and of crashes (SIGKILL).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExecutionContext } from 'ava';
import { pinnedCa, trustingFetch, type Fetch } from './https.ts';

export const projectRoot = path.resolve(fileURLToPath(new URL('../..', import.meta.url)));
const main = path.join(projectRoot, 'src/main.ts');

function cleanEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MODELSHARE_')));
  return { ...base, ...env };
}

/** Runs a command to completion. */
export function runCommand(args: string[], env: Record<string, string> = {}, cwd = projectRoot) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', main, ...args], { cwd, env: cleanEnv(env), encoding: 'utf8' });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

export interface SpawnedServer {
  url: string;
  /** The SHA-256 fingerprint of the server's CA, from its start-up log (managed TLS). */
  caFingerprint: string | undefined;
  /** The CA certificate, fetched from /ca.pem and checked against that fingerprint, as a client pins it. */
  ca: string | undefined;
  /** fetch that trusts that CA only. */
  fetch: Fetch;
  child: ChildProcess;
  output(): string;
  /** Resolves with the exit code (or signal) when the process ends. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `modelshare serve` and resolves once it logs that it is serving. */
export async function spawnServer(t: ExecutionContext, env: Record<string, string>): Promise<SpawnedServer> {
  const child = spawn(process.execPath, ['--import', 'tsx', main, 'serve'], {
    cwd: projectRoot,
    env: cleanEnv({ MODELSHARE_SERVER_PORT: '0', ...env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      const match = /"url":"([^"]+)"[^\n]*modelshare is serving/.exec(output);
      // A server listening on every interface is reached, as its own healthcheck does, on loopback.
      if (match) resolve(match[1]!.replace(/^(https?:\/\/)(0\.0\.0\.0|\[::\])(?=:)/, '$1127.0.0.1'));
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    void exited.then(({ code, signal }) => reject(new Error(`server exited (${code ?? signal}) before serving:\n${output}`)));
  });
  const caFingerprint = /"ca_fingerprint":"([0-9A-F:]+)"/.exec(output)?.[1];
  const ca = url.startsWith('https:') && caFingerprint ? await pinnedCa(url, caFingerprint) : undefined;
  return { url, caFingerprint, ca, fetch: trustingFetch(t, ca), child, output: () => output, exited };
}
