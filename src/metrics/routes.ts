/**
 * `GET /metrics`: the Prometheus text format, for the operator's monitoring only. Readable with the
 * bearer token of `metrics.token` (compared in constant time) or, with `metrics.allow_loopback`, from
 * this machine directly (not through a proxy). With neither configured the route answers 404. It is
 * mounted before user authentication: the metrics token is not a user's token.
 *
 * The gauges that are read at scrape time (certificate expiry, database and blob store size, free
 * disk space) are registered here, where the things they read are at hand.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import type { Context } from 'koa';
import { Gauge } from 'prom-client';
import type { Db } from '../db/open.ts';
import type { TlsService } from '../tls/service.ts';
import { AppError } from '../errors.ts';
import { access, route, type AnyRoute } from '../http/route-table.ts';
import type { Metrics } from './metrics.ts';

/** `token` and `allow_loopback` are the keys of the `metrics` config section. */
export interface MetricsRouteOptions {
  token: string | undefined;
  allow_loopback: boolean;
  db: Db;
  databasePath: string;
  dataDir: string;
  /** The served certificate (absent with tls.mode off). */
  tls: TlsService | undefined;
}

const loopback = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

function sha256(text: string): Buffer {
  return crypto.createHash('sha256').update(text).digest();
}

/** The gate of /metrics: the configured token, or a direct connection from this machine when allowed. */
export function metricsGate(options: Pick<MetricsRouteOptions, 'token' | 'allow_loopback'>) {
  const expected = options.token === undefined ? undefined : sha256(options.token);
  return (ctx: Context): void => {
    if (!expected && !options.allow_loopback) throw new AppError('not_found', 'Metrics are not enabled (metrics.token)');
    const match = /^bearer (.+)$/i.exec(ctx.get('Authorization'));
    // Hashing both sides first gives equal lengths, so the comparison takes the same time for any token.
    if (expected && match && crypto.timingSafeEqual(sha256(match[1]!), expected)) return;
    const direct = loopback.has(ctx.req.socket.remoteAddress ?? '') && !ctx.get('X-Forwarded-For') && !ctx.get('Forwarded');
    if (options.allow_loopback && direct && !match) return;
    throw new AppError('unauthorized', 'Send the metrics token as a bearer token', { headers: { 'WWW-Authenticate': 'Bearer realm="metrics"' } });
  };
}

function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

function observeStores(metrics: Metrics, options: MetricsRouteOptions): void {
  const registers = [metrics.registry];
  const blobBytes = options.db.prepare<[], { bytes: number | null; count: number }>('SELECT sum(size) AS bytes, count(*) AS count FROM blobs');
  new Gauge({
    name: 'modelshare_database_bytes',
    help: 'Size of the SQLite database file with its write-ahead log.',
    registers,
    collect() {
      this.set(fileSize(options.databasePath) + fileSize(`${options.databasePath}-wal`));
    },
  });
  new Gauge({
    name: 'modelshare_blob_store_bytes',
    help: 'Plaintext bytes of the baselines and packets in the blob store.',
    registers,
    collect() {
      this.set(blobBytes.get()?.bytes ?? 0);
    },
  });
  new Gauge({
    name: 'modelshare_data_dir_free_bytes',
    help: 'Free space for the server on the file system of the data directory.',
    registers,
    collect() {
      const stat = fs.statfsSync(options.dataDir);
      this.set(stat.bavail * stat.bsize);
    },
  });
  if (options.tls) {
    const tls = options.tls;
    new Gauge({
      name: 'modelshare_certificate_expiry_timestamp_seconds',
      help: 'When the served TLS certificate expires (Unix time).',
      registers,
      collect() {
        this.set(new Date(tls.status().not_after).getTime() / 1000);
      },
    });
  }
}

export function metricsRoutes(metrics: Metrics, options: MetricsRouteOptions): AnyRoute[] {
  observeStores(metrics, options);
  return [
    route({
      method: 'GET', path: '/metrics', summary: 'Prometheus metrics (the metrics token, or loopback when allowed)', access: access.operator(metricsGate(options)),
      handler: async (_input, ctx) => {
        ctx.set('Cache-Control', 'no-store');
        ctx.type = metrics.registry.contentType;
        ctx.body = await metrics.registry.metrics();
      },
    }),
  ];
}
