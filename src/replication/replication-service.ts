/**
 * Continuous replication of the database: Litestream as a supervised child, the lag measured every
 * quarter second (lag.ts), a heartbeat row so a broken target shows while nobody writes, and the state
 * for /readyz, /status, /metrics and `modelshare replication status` (a file beside the config, since
 * that command runs in another process).
 *
 * Checkpoints follow Litestream's tips for write-heavy servers: while Litestream runs, the server's
 * own autocheckpoint is off (wal_autocheckpoint = 0) and Litestream checkpoints after copying the WAL,
 * so the application never checkpoints frames Litestream has not read yet (which would force a new
 * generation: a full snapshot upload). While Litestream is down (between a death and its restart)
 * the server checkpoints again, so the WAL cannot grow without bound; Litestream, once back,
 * notices and starts a new generation. busy_timeout (database.busy_timeout, 5 s by default, the value
 * Litestream recommends) lets writes wait out Litestream's short checkpoint locks.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/options.ts';
import type { Db } from '../db/open.ts';
import type { Log } from '../log.ts';
import { LagMeter } from './lag.ts';
import { configPath, litestreamBinary, litestreamEnv, replicationDir, writeLitestreamConfig } from './litestream-config.ts';
import { LitestreamSupervisor, type ReplicatedPosition } from './supervisor.ts';

export interface ReplicationStatus {
  /** `ok`, or `lagging` when the lag is over replication.max_lag. */
  state: 'ok' | 'lagging';
  running: boolean;
  restarts: number;
  lag_seconds: number;
  max_lag_seconds: number;
  /** Every commit acknowledged before this moment is in the replica (absent until the first is known). */
  recovery_point: string | null;
  target: string;
  position: string | null;
  updated_at: string;
  pid: number;
}

/** The file `replication status` reads: written by the server every second. */
export function statusFile(config: Config): string {
  return path.join(replicationDir(config), 'status.json');
}

/** Where replication goes, for people: the path, or the bucket and prefix (never a credential). */
export function describeTarget(config: Config): string {
  const r = config.replication;
  return r.path !== '' ? path.resolve(r.path) : `s3://${r.s3.bucket}/${r.s3.path}${r.s3.endpoint !== '' ? ` at ${r.s3.endpoint}` : ''}`;
}

export class ReplicationService {
  readonly #config: Config;
  readonly #db: Db;
  readonly #log: Log;
  readonly #meter: LagMeter;
  readonly #supervisor: LitestreamSupervisor;
  readonly #now: () => number;
  #status: ReplicationStatus;
  #tick: NodeJS.Timeout | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #lastWrite = 0;
  /** When Litestream last reported a segment written. */
  #progressAt = 0;

  constructor(options: { config: Config; db: Db; log: Log; now?: () => number; backoffMs?: number }) {
    this.#config = options.config;
    this.#db = options.db;
    this.#log = options.log.child({ component: 'replication' });
    this.#now = options.now ?? Date.now;
    this.#meter = new LagMeter(options.config.database.path, this.#now());
    const dir = replicationDir(options.config);
    this.#supervisor = new LitestreamSupervisor({
      binary: litestreamBinary(),
      configFile: path.resolve(configPath(options.config)),
      pidFile: path.join(dir, 'litestream.pid'),
      env: litestreamEnv(options.config),
      log: this.#log,
      ...(options.backoffMs !== undefined ? { backoffMs: options.backoffMs } : {}),
      onReplicated: (position: ReplicatedPosition) => {
        this.#meter.replicated(position);
        this.#progressAt = this.#now();
      },
      onRunning: (running) => this.#autocheckpoint(running),
    });
    this.#status = this.#compute();
  }

  /** Litestream owns checkpoints while it runs; the server takes them back while it is down. */
  #autocheckpoint(litestreamRunning: boolean): void {
    if (!this.#db.open) return;
    try {
      this.#db.pragma(`wal_autocheckpoint = ${litestreamRunning ? 0 : 1000}`);
    } catch (error) {
      this.#log.warn({ err: error }, 'could not change wal_autocheckpoint');
    }
  }

  start(): void {
    writeLitestreamConfig(this.#config);
    this.#supervisor.start();
    this.#log.info({ target: describeTarget(this.#config), max_lag_ms: this.#config.replication.max_lag }, 'replicating the database');
    this.beat();
    const loop = () => {
      this.#status = this.#compute();
      if (this.#now() - this.#lastWrite >= 1000) this.#writeStatusFile();
      this.#tick = setTimeout(loop, 250);
      this.#tick.unref();
    };
    loop();
    this.#heartbeat = setInterval(() => this.beat(), this.#config.replication.heartbeat);
    this.#heartbeat.unref();
  }

  /** One heartbeat commit: a change Litestream must ship, so an idle server still measures its lag. */
  beat(): void {
    if (!this.#db.open) return;
    try {
      this.#db.prepare('INSERT INTO replication_heartbeat (id, beat, at) VALUES (1, 1, ?) ON CONFLICT (id) DO UPDATE SET beat = beat + 1, at = excluded.at')
        .run(new Date(this.#now()).toISOString());
    } catch (error) {
      this.#log.warn({ err: error }, 'the replication heartbeat could not be written');
    }
  }

  #compute(): ReplicationStatus {
    const now = this.#now();
    const { lagMs, recoveryPoint } = this.#meter.measure(now);
    const previous = this.#status?.state;
    const state = lagMs > this.#config.replication.max_lag ? 'lagging' : 'ok';
    if (previous !== undefined && previous !== state) {
      if (state === 'lagging') this.#log.error({ lag_ms: lagMs, max_lag_ms: this.#config.replication.max_lag }, 'replication lag is over replication.max_lag: a takeover now would lose more than that');
      else this.#log.info({ lag_ms: lagMs }, 'replication has caught up');
    }
    // A Litestream that has had changes waiting longer than max_lag and wrote nothing in that time,
    // while running at least that long, is stuck (0.3.13 hangs after a failed write): recycle it.
    const limit = this.#config.replication.max_lag;
    if (state === 'lagging' && this.#supervisor.running && now - Math.max(this.#progressAt, this.#supervisor.startedAt) > limit) {
      this.#supervisor.recycle(`no segment written for over ${limit} ms while the lag is ${lagMs} ms`);
    }
    const p = this.#meter.position;
    return {
      state,
      running: this.#supervisor.running,
      restarts: this.#supervisor.restarts,
      lag_seconds: lagMs / 1000,
      max_lag_seconds: this.#config.replication.max_lag / 1000,
      recovery_point: recoveryPoint === undefined ? null : new Date(recoveryPoint).toISOString(),
      target: describeTarget(this.#config),
      position: p ? `${p.generation}/${p.index.toString(16).padStart(8, '0')}:${p.end}` : null,
      updated_at: new Date(now).toISOString(),
      pid: process.pid,
    };
  }

  #writeStatusFile(): void {
    this.#lastWrite = this.#now();
    const file = statusFile(this.#config);
    try {
      fs.writeFileSync(`${file}.tmp`, JSON.stringify(this.#status), { mode: 0o600 });
      fs.renameSync(`${file}.tmp`, file);
    } catch (error) {
      this.#log.debug({ err: error }, 'could not write the replication status file');
    }
  }

  /** The last measurement (every 250 ms). */
  status(): ReplicationStatus {
    return this.#status;
  }

  /** The Litestream child's pid while it runs (tests kill it to see it restarted). */
  get childPid(): number | undefined {
    return this.#supervisor.pid;
  }

  async stop(): Promise<void> {
    clearTimeout(this.#tick);
    clearInterval(this.#heartbeat);
    await this.#supervisor.stop();
    fs.rmSync(statusFile(this.#config), { force: true });
  }
}
