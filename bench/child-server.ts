/**
 * A real `modelshare serve` in its own process for the benchmarks, so the server's memory and
 * start-up are measured apart from the client's: the data directory is prepared here first (people
 * and their tokens, the managed CA), then the built server (`dist/`, as `npm start` runs it) is
 * started on it. Peak memory is the kernel's high-water mark of that process (VmHWM), which can be
 * reset between phases.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent } from 'undici';
import { openStores, type Stores } from '../src/boot.ts';
import { systemClock } from '../src/clock.ts';
import { loadConfig } from '../src/config/load.ts';
import type { Config } from '../src/config/options.ts';
import { createLogger } from '../src/log.ts';
import { createServices, type Services } from '../src/services.ts';
import { TlsService } from '../src/tls/service.ts';
import { procStatus, rssOf } from './measure.ts';

const root = path.resolve(fileURLToPath(new URL('..', import.meta.url)));
/** Node options the server is launched with for real (systemd unit, Dockerfile, npm start), so the benches measure that. */
export const servedNodeArgs = ['--max-semi-space-size=1'];
let built = false;

/** Builds `dist/` once per bench run, so the server runs as `npm start` runs it (no tsx in its memory). */
export function buildOnce(): void {
  if (built) return;
  const result = spawnSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: root, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`tsc failed:\n${result.stdout}${result.stderr}`);
  built = true;
}

export interface Prepared {
  dir: string;
  env: Record<string, string>;
  /** The CA the server's certificate chains to. */
  ca: string;
  /** The server's certificate chain and key, for the bare baselines (bench/bare-server.ts). */
  tls: { cert: string; key: string };
}

const baseEnv = (dir: string): Record<string, string> => ({
  MODELSHARE_DATA_DIR: dir,
  MODELSHARE_SERVER_HOST: '127.0.0.1',
  MODELSHARE_SERVER_PORT: '0',
  MODELSHARE_LOG_LEVEL: 'warn',
  MODELSHARE_DEMO_ENABLED: 'off',
  MODELSHARE_STORAGE_MIN_FREE_BYTES: '0',
  MODELSHARE_SERVER_REQUEST_TIMEOUT: '1h',
});

/**
 * Makes a data directory with `env` and lets `fill` put data in it through the real stores and
 * services (people, tokens, models, packets) before any server runs on it.
 */
export async function prepare<T>(env: Record<string, string>, fill: (s: { stores: Stores; services: Services; config: Config }) => Promise<T> | T, dir = fs.mkdtempSync(path.join(os.tmpdir(), 'modelshare-bench-'))): Promise<Prepared & { filled: T }> {
  const allEnv = { ...baseEnv(dir), ...env };
  const config = loadConfig({ env: allEnv });
  const log = createLogger('error', 2);
  const stores = openStores(config, log);
  const tls = await TlsService.start({ config, db: stores.db, keys: stores.keys, clock: systemClock, log });
  const services = createServices(config, stores, systemClock, log, { caPem: tls.authority?.certificatePem });
  try {
    const filled = await fill({ stores, services, config });
    return { dir, env: allEnv, ca: tls.authority!.certificatePem, tls: tls.current(), filled };
  } finally {
    services.stop();
    tls.close();
    stores.close();
  }
}

/** A person with a personal access token, made through the identity service as a sign-in would. */
export function benchPerson(services: Services, name: string): { id: string; token: string } {
  const p = services.identity.people.signIn({ issuer: 'https://bench.example', subject: name, email: `${name}@bench.example`, emailVerified: true, name, serverAdmin: false });
  return { id: p.id, token: services.identity.tokens.startLogin(p.id, 'bench').tokens.access_token };
}

export interface ChildServer {
  url: string;
  ca: string;
  child: ChildProcess;
  /** Milliseconds from spawn to the "modelshare is serving" line. */
  startupMs: number;
  agent(connections: number): Agent;
  /** The process's resident set size now, in bytes. */
  rss(): number;
  /** The process's peak resident set size since start or the last `resetPeak`, in bytes. */
  peakRss(): number;
  /** Starts a new peak measurement (writes 5 to /proc/PID/clear_refs). */
  resetPeak(): void;
  stop(): Promise<void>;
}

function serverEnvFromBench(): Record<string, string> {
  const pairs = (process.env['BENCH_SERVER_ENV'] ?? '').split(/\s+/).filter(Boolean);
  return Object.fromEntries(pairs.map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]));
}

/** Starts the built server on a prepared directory; resolves when it logs that it is serving. */
export async function startChild(prepared: Prepared, env: Record<string, string> = {}, nodeArgs: string[] = []): Promise<ChildServer> {
  buildOnce();
  const started = process.hrtime.bigint();
  const child = spawn(process.execPath, [...servedNodeArgs, ...nodeArgs, path.join(root, 'dist/src/main.js'), 'serve'], {
    cwd: root,
    // BENCH_SERVER_ENV="MODELSHARE_STORAGE_CRYPTO_WORKERS=1 …" tries a setting on every server a bench starts.
    env: { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MODELSHARE_'))), ...prepared.env, MODELSHARE_LOG_LEVEL: 'info', ...env, ...serverEnvFromBench() },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      const match = /"url":"([^"]+)"[^\n]*modelshare is serving/.exec(output);
      if (match) {
        child.stdout!.off('data', onData);
        child.stdout!.resume();
        resolve(match[1]!);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => void (output += chunk.toString('utf8')));
    child.once('exit', (code) => reject(new Error(`server exited (${code}) before serving:\n${output}`)));
  });
  const startupMs = Number(process.hrtime.bigint() - started) / 1e6;
  return { ...handle(child, url, prepared.ca), startupMs };
}

/** The measuring and stopping side of a server process, real or bare. */
function handle(child: ChildProcess, url: string, ca: string): Omit<ChildServer, 'startupMs'> {
  const pid = child.pid!;
  return {
    url,
    ca,
    child,
    agent: (connections) => new Agent({ connect: { ca }, connections, pipelining: 1 }),
    rss: () => rssOf(pid),
    peakRss: () => procStatus(pid, 'VmHWM'),
    resetPeak: () => fs.writeFileSync(`/proc/${pid}/clear_refs`, '5'),
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
      }),
  };
}

/**
 * Starts a bare baseline server (bench/bare-server.ts: `file` or `koa`) in its own process with the
 * prepared certificate; `peakRss`/`resetPeak` as for the real server.
 */
export async function startBare(prepared: Prepared, mode: 'file' | 'koa', file = path.join(prepared.dir, 'bare.bin')): Promise<Omit<ChildServer, 'startupMs'>> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'bench/bare-server.ts'), mode, file], {
    cwd: root,
    env: { ...process.env, BARE_CERT: prepared.tls.cert, BARE_KEY: prepared.tls.key },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<string>((resolve, reject) => {
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
      const match = /listening (\d+)/.exec(output);
      if (match) resolve(match[1]!);
    });
    child.once('exit', (code) => reject(new Error(`bare server exited (${code}) before listening`)));
  });
  return handle(child, `https://127.0.0.1:${port}`, prepared.ca);
}
