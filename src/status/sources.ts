/**
 * What the status page reports: a list of sources, each checking one part of the server and saying
 * `up`, `degraded` or `down` with a short reason. Sources are plain objects, so another part (the
 * backups) plugs its own in. What a source returns is public: states, reasons, times and sizes,
 * never names of people or models, paths, addresses or error messages from inside.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { AppDeps } from '../app.ts';
import type { BlobService } from '../blobs/blob-service.ts';
import type { Db } from '../db/open.ts';
import type { TlsService } from '../tls/service.ts';
import { version } from '../version.ts';

export type StatusState = 'up' | 'degraded' | 'down';

export interface StatusCheck {
  state: StatusState;
  /** One short public sentence, e.g. `expires in 12 days`. */
  reason: string;
  /** Public facts shown beside it (times as RFC 3339, sizes in bytes). */
  details?: Record<string, string | number | boolean | null>;
}

export interface StatusSource {
  /** Shown as the row's name and used as its key in /status.json, e.g. `database`, `last_backup`. */
  name: string;
  check(): Promise<StatusCheck> | StatusCheck;
}

const gib = 1024 ** 3;

/** The server's version: the one `modelshare --version` and /healthz show (src/version.ts). */
export function serverVersion(): string {
  return version;
}

export function serviceSource(version: string): StatusSource {
  return { name: 'service', check: () => ({ state: 'up', reason: 'serving requests', details: { version } }) };
}

export function databaseSource(db: Db): StatusSource {
  return {
    name: 'database',
    check() {
      db.prepare('SELECT count(*) FROM schema_migrations').get();
      return { state: 'up', reason: 'answering queries' };
    },
  };
}

/** Degraded below 10% or 2 GiB free, whichever is more: uploads of large baselines start to fail then. */
export function blobStorageSource(blobs: BlobService, dir: string): StatusSource {
  return {
    name: 'blob_storage',
    async check() {
      await blobs.check();
      const stat = fs.statfsSync(dir);
      const free = stat.bavail * stat.bsize;
      const total = stat.blocks * stat.bsize;
      const percent = total > 0 ? Math.round((free / total) * 100) : 0;
      const details = { free_bytes: free, free_percent: percent };
      const text = `${(free / gib).toFixed(1)} GiB free (${percent}%)`;
      if (free < Math.max(2 * gib, total * 0.1)) return { state: 'degraded', reason: `low on space: ${text}`, details };
      return { state: 'up', reason: `taking writes, ${text}`, details };
    },
  };
}

export function certificateSource(tls: TlsService | undefined): StatusSource {
  return {
    name: 'certificate',
    check() {
      if (!tls) return { state: 'up', reason: 'TLS is terminated by a reverse proxy' };
      const status = tls.status();
      const details = { not_after: status.not_after, days_left: status.days_left };
      if (status.warning === 'expired') return { state: 'down', reason: 'the certificate has expired', details };
      if (status.warning === 'expiring') return { state: 'degraded', reason: `the certificate expires in ${status.days_left} day(s)`, details };
      return { state: 'up', reason: `valid for ${status.days_left} more day(s)`, details };
    },
  };
}

/** One source per sign-in provider: reachable once its discovery document was read; retried meanwhile. */
export function providerSources(providers: { list(): { id: string; name: string; ready: boolean }[] }): StatusSource[] {
  return providers.list().map((p) => ({
    name: `sign_in_${p.id}`,
    check: (): StatusCheck => {
      const now = providers.list().find((q) => q.id === p.id);
      return now?.ready
        ? { state: 'up', reason: `${p.name} is reachable`, details: { provider: p.name } }
        : { state: 'down', reason: `${p.name} cannot be reached; sign-in through it fails until it can`, details: { provider: p.name } };
    },
  }));
}

/** The sources every server has; the backups add theirs to `services.statusSources`. */
export function standardSources(deps: AppDeps): StatusSource[] {
  return [
    serviceSource(serverVersion()),
    databaseSource(deps.db),
    blobStorageSource(deps.blobs, path.join(deps.config.data_dir, 'blobs')),
    certificateSource(deps.tls),
    ...providerSources(deps.services.identity.providers),
  ];
}
