/**
 * Runs `litestream replicate` as a child of the server: restarted with backoff when it dies, its JSON
 * log lines re-logged through our logger (so journald and Docker see one log), and stopped with
 * SIGTERM (Litestream then ships what is left) on shutdown, SIGKILL only if it does not exit in time.
 *
 * A server killed with SIGKILL cannot stop its child. The child's pid is kept in a file, and the next
 * start ends a leftover Litestream of the same config before starting its own: two replicating
 * processes would fight over the same WAL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import readline from 'node:readline';
import type { Log } from '../log.ts';

/** A WAL segment Litestream reports as written to the replica: everything before `end` is there. */
export interface ReplicatedPosition {
  generation: string;
  index: number;
  /** Byte offset in that WAL index up to which the replica holds the frames. */
  end: number;
}

export interface SupervisorOptions {
  binary: string;
  configFile: string;
  pidFile: string;
  env: NodeJS.ProcessEnv;
  log: Log;
  /** First restart delay; doubled after each quick death up to `maxBackoffMs`. */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Called with each position Litestream reports replicated. */
  onReplicated(position: ReplicatedPosition): void;
  /** Called when the child starts and when it ends (running true/false). */
  onRunning(running: boolean): void;
}

const levels: Record<string, 'debug' | 'info' | 'warn' | 'error'> = { DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' };

/** `wal segment written` carries the segment's start (`gen/index:offset`) and its size in bytes. */
export function segmentWritten(line: Record<string, unknown>): ReplicatedPosition | undefined {
  if (line['msg'] !== 'wal segment written' || typeof line['position'] !== 'string' || typeof line['sz'] !== 'number') return undefined;
  const match = /^([0-9a-f]{16})\/([0-9a-f]{8}):(\d+)$/.exec(line['position']);
  if (!match) return undefined;
  return { generation: match[1]!, index: parseInt(match[2]!, 16), end: Number(match[3]) + line['sz'] };
}

export class LitestreamSupervisor {
  readonly #o: SupervisorOptions;
  #child: ChildProcess | undefined;
  #exited: Promise<void> | undefined;
  #stopping = false;
  #timer: NodeJS.Timeout | undefined;
  #backoff: number;
  #restarts = 0;
  #startedAt = 0;

  constructor(options: SupervisorOptions) {
    this.#o = options;
    this.#backoff = options.backoffMs ?? 1000;
  }

  /** How many times the child was started again after it died. */
  get restarts(): number {
    return this.#restarts;
  }

  get running(): boolean {
    return this.#child !== undefined;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  start(): void {
    this.#stopping = false;
    this.#endLeftover();
    this.#spawn();
  }

  /** Ends a Litestream left running by a server that was killed, if it replicates our config. */
  #endLeftover(): void {
    let pid: number;
    try {
      pid = Number(fs.readFileSync(this.#o.pidFile, 'utf8').trim());
    } catch {
      return;
    }
    if (!Number.isInteger(pid) || pid <= 1) return;
    try {
      const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (!cmdline.includes('replicate') || !cmdline.includes(this.#o.configFile)) return;
      process.kill(pid, 'SIGKILL');
      this.#o.log.warn({ pid }, 'ended a Litestream left running by an earlier server process');
    } catch {
      // Not running any more (or not ours): nothing to end.
    }
  }

  #spawn(): void {
    const child = spawn(this.#o.binary, ['replicate', '-config', this.#o.configFile], { env: this.#o.env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    this.#startedAt = Date.now();
    const log = this.#o.log;
    this.#exited = new Promise<void>((resolve) => {
      child.once('error', (error) => {
        log.error({ err: error }, 'Litestream could not be started');
      });
      child.once('close', (code, signal) => {
        this.#child = undefined;
        fs.rmSync(this.#o.pidFile, { force: true });
        this.#o.onRunning(false);
        resolve();
        if (this.#stopping) return;
        // A child that ran a while died of something new: start again soon. One that keeps dying
        // quickly waits longer each time, so a broken setup does not spin.
        if (Date.now() - this.#startedAt > 60_000) this.#backoff = this.#o.backoffMs ?? 1000;
        log.error({ code, signal, restart_in_ms: this.#backoff }, 'Litestream stopped unexpectedly: replication is paused until it runs again');
        this.#timer = setTimeout(() => {
          this.#restarts += 1;
          this.#spawn();
        }, this.#backoff);
        this.#timer.unref();
        this.#backoff = Math.min(this.#backoff * 2, this.#o.maxBackoffMs ?? 30_000);
      });
    });
    if (child.pid !== undefined) {
      fs.writeFileSync(this.#o.pidFile, `${child.pid}\n`, { mode: 0o600 });
      this.#o.onRunning(true);
      log.info({ pid: child.pid }, 'Litestream started');
    }
    readline.createInterface({ input: child.stdout! }).on('line', (text) => this.#relay(text));
    readline.createInterface({ input: child.stderr! }).on('line', (text) => {
      if (text.trim() !== '') log.warn({ litestream: text.slice(0, 2000) }, 'litestream');
    });
  }

  /** One line of Litestream's JSON log, logged again at its level with its fields. */
  #relay(text: string): void {
    let line: Record<string, unknown>;
    try {
      line = JSON.parse(text) as Record<string, unknown>;
    } catch {
      if (text.trim() !== '') this.#o.log.info({ litestream: text.slice(0, 2000) }, 'litestream');
      return;
    }
    const position = segmentWritten(line);
    if (position) this.#o.onReplicated(position);
    const { time: _time, level, msg, ...fields } = line;
    const method = levels[String(level)] ?? 'info';
    // Routine per-segment lines go to debug: at one a second they would drown the log.
    const routine = msg === 'write wal segment' || msg === 'wal segment written';
    this.#o.log[routine ? 'debug' : method]({ litestream: fields }, `litestream: ${String(msg)}`);
  }

  /** When the child (re)started, as a Unix time in ms; 0 before the first start. */
  get startedAt(): number {
    return this.#startedAt;
  }

  /**
   * Ends a child that hangs (Litestream 0.3.13 stops for good after a failed write to the target)
   * so it is started again like one that died; the new one resumes from the replica's position.
   */
  recycle(reason: string): void {
    if (!this.#child || this.#stopping) return;
    this.#o.log.error({ pid: this.#child.pid, reason }, 'Litestream makes no progress: ending it to start it again');
    this.#child.kill('SIGKILL');
  }

  /** Stops the child: SIGTERM (it syncs what is left), SIGKILL after `timeoutMs`. */
  async stop(timeoutMs = 10_000): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#timer);
    const child = this.#child;
    if (!child) return;
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    await this.#exited;
    clearTimeout(killer);
    this.#o.log.info('Litestream stopped');
  }
}
