/**
 * The server's Prometheus metrics (prom-client, the only file besides routes.ts that imports it).
 * One registry per server, so tests can run many servers in one process. Labels are bounded: HTTP
 * requests are labelled by the route template @koa/router matched (`/api/v1/models/:id`), never by
 * the path as sent, and by status; anything no route matched is `unmatched`.
 *
 * Other domains report through the hooks here (`rateLimited`, `jobRan`, `backupSucceeded`), and
 * sign-ins are counted from the audit log's stream of entries.
 */
import type { Context, Next } from 'koa';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { AuditEntry } from '../audit/audit-service.ts';
import type { ReplicationStatus } from '../replication/replication-service.ts';

/** Write-outs and baselines, recognised by their route template and a 201. */
const packetRoute = '/api/v1/models/:id/packets';
const baselineRoute = '/api/v1/models/:id/baselines';

export interface Metrics {
  readonly registry: Registry;
  /** Counts, times and sizes every request; goes first, so it sees the final status of every answer. */
  middleware(): (ctx: Context, next: Next) => Promise<void>;
  /** A request refused by a rate limit (`limit` names it, e.g. `sign_in`, `bearer_failures`). */
  rateLimited(limit: string): void;
  /** A scheduled job ran: its name, how it ended and how long it took. */
  jobRan(job: string, outcome: 'ok' | 'failed', seconds: number): void;
  /** A backup finished and verified. */
  backupSucceeded(at: Date): void;
  /** Feeds the audit log's entries in (sign-ins by outcome). */
  audited(entry: AuditEntry): void;
  /** Reports database replication (read at each scrape). */
  observeReplication(read: () => ReplicationStatus): void;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  const registers = [registry];
  // Process memory, CPU, open handles and event loop lag (nodejs_eventloop_lag_seconds and its percentiles).
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 20 });
  const requests = new Counter({ name: 'modelshare_http_requests_total', help: 'HTTP requests answered, by method, route template and status.', labelNames: ['method', 'route', 'status'] as const, registers });
  const latency = new Histogram({
    name: 'modelshare_http_request_duration_seconds',
    help: 'Time from the request to the last byte of the answer, by method and route template (event streams excluded).',
    labelNames: ['method', 'route'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers,
  });
  const bytesIn = new Counter({ name: 'modelshare_http_received_bytes_total', help: 'Bytes received on requests (headers and body), by route template.', labelNames: ['route'] as const, registers });
  const bytesOut = new Counter({ name: 'modelshare_http_sent_bytes_total', help: 'Bytes sent in answers (headers and body), by route template.', labelNames: ['route'] as const, registers });
  const writeOuts = new Counter({ name: 'modelshare_write_outs_total', help: 'Change packets written out (201).', registers });
  const baselines = new Counter({ name: 'modelshare_baselines_total', help: 'Baselines uploaded (201).', registers });
  const streams = new Gauge({ name: 'modelshare_event_streams_open', help: 'Notification streams (Server-Sent Events) open now.', registers });
  const signIns = new Counter({ name: 'modelshare_sign_ins_total', help: 'Browser sign-ins, by outcome (allowed, denied, failed).', labelNames: ['outcome'] as const, registers });
  const refusals = new Counter({ name: 'modelshare_rate_limit_refusals_total', help: 'Requests refused by a rate limit, by limit.', labelNames: ['limit'] as const, registers });
  const jobRuns = new Counter({ name: 'modelshare_job_runs_total', help: 'Scheduled job runs, by job and outcome.', labelNames: ['job', 'outcome'] as const, registers });
  const jobSeconds = new Histogram({ name: 'modelshare_job_duration_seconds', help: 'Duration of scheduled job runs, by job.', labelNames: ['job'] as const, buckets: [0.1, 1, 10, 60, 300, 1800, 7200], registers });
  const lastBackup = new Gauge({ name: 'modelshare_last_successful_backup_timestamp_seconds', help: 'When the last backup finished and verified (Unix time); absent before the first.', registers });

  const socketCounts = new WeakMap<object, { read: number; written: number }>();
  const counted = new WeakSet<object>();
  return {
    registry,
    middleware: () => async (ctx, next) => {
      const started = process.hrtime.bigint();
      const socket = ctx.req.socket;
      // 'close' follows 'finish' on every response, and also ends an aborted one: one listener counts both.
      ctx.res.once('close', () => {
        const route = (ctx as Context & { _matchedRoute?: string | RegExp })._matchedRoute;
        const template = typeof route === 'string' ? route : 'unmatched';
        const stream = ctx.response.type === 'text/event-stream';
        requests.inc({ method: ctx.method, route: template, status: String(ctx.status) });
        // Bytes on the connection since the previous answer on it ended: HTTP/1.1 answers one request
        // at a time, and the socket reads ahead, so a count taken when this request began would miss
        // what the socket had already read of its body.
        const last = socketCounts.get(socket) ?? { read: 0, written: 0 };
        bytesIn.inc({ route: template }, Math.max(0, socket.bytesRead - last.read));
        bytesOut.inc({ route: template }, Math.max(0, socket.bytesWritten - last.written));
        socketCounts.set(socket, { read: socket.bytesRead, written: socket.bytesWritten });
        if (ctx.method === 'POST' && ctx.status === 201 && template === packetRoute) writeOuts.inc();
        if (ctx.method === 'POST' && ctx.status === 201 && template === baselineRoute) baselines.inc();
        if (stream && counted.has(ctx.res)) streams.dec();
        if (!stream) latency.observe({ method: ctx.method, route: template }, Number(process.hrtime.bigint() - started) / 1e9);
      });
      await next();
      if (ctx.response.type === 'text/event-stream' && !ctx.res.writableEnded && !ctx.res.destroyed) {
        counted.add(ctx.res);
        streams.inc();
      }
    },
    rateLimited: (limit) => refusals.inc({ limit }),
    jobRan: (job, outcome, seconds) => {
      jobRuns.inc({ job, outcome });
      jobSeconds.observe({ job }, seconds);
    },
    backupSucceeded: (at) => lastBackup.set(at.getTime() / 1000),
    audited: (entry) => {
      if (entry.action === 'auth.sign_in') signIns.inc({ outcome: entry.outcome });
    },
    observeReplication: (read) => {
      new Gauge({
        name: 'modelshare_replication_lag_seconds',
        help: 'Replication lag (recovery point): every commit acknowledged longer ago than this is in the replica; 0 when it holds everything.',
        registers,
        collect() {
          this.set(read().lag_seconds);
        },
      });
      new Gauge({ name: 'modelshare_replication_max_lag_seconds', help: 'replication.max_lag: above it, readiness is degraded.', registers, collect() {
        this.set(read().max_lag_seconds);
      } });
      new Gauge({ name: 'modelshare_replication_running', help: 'Whether the Litestream child runs (1) or not (0).', registers, collect() {
        this.set(read().running ? 1 : 0);
      } });
      new Gauge({ name: 'modelshare_replication_restarts', help: 'Times the Litestream child was restarted after dying, since the server started.', registers, collect() {
        this.set(read().restarts);
      } });
    },
  };
}
