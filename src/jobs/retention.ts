/**
 * The retention job: each purge under `retention.*` in turn, one audit entry with the counts, then
 * the database file is shrunk (incremental vacuum). And the orphan blob sweep, its own hourly job.
 */
import type { AuditService } from '../audit/audit-service.ts';
import type { BlobService } from '../blobs/blob-service.ts';
import type { Clock } from '../clock.ts';
import type { Config } from '../config/options.ts';
import type { Db } from '../db/open.ts';
import { purgeIdentity } from '../identity/retention.ts';
import type { SharingRetention } from '../sharing/retention.ts';
import type { JobResult, JobRunner } from './runner.ts';

export interface RetentionDeps {
  config: Config;
  db: Db;
  clock: Clock;
  audit: AuditService;
  blobs: BlobService;
  sharing: SharingRetention;
  runner: JobRunner;
}

/** Makes the database file give back free pages: incrementally, or once with VACUUM to switch an older file to incremental mode. */
export function vacuum(db: Db): { vacuum: string; freed_pages: number } {
  const free = () => Number(db.pragma('freelist_count', { simple: true }));
  const before = free();
  if (Number(db.pragma('auto_vacuum', { simple: true })) === 2) {
    db.pragma('incremental_vacuum');
    return { vacuum: 'incremental', freed_pages: before - free() };
  }
  // A file made before auto_vacuum was set: one full VACUUM (it blocks writers while it runs) turns
  // incremental mode on, and only when a quarter of the file is free, so it is worth the pause.
  if (before > 0 && before * 4 >= Number(db.pragma('page_count', { simple: true }))) {
    db.pragma('auto_vacuum = INCREMENTAL');
    db.exec('VACUUM');
    return { vacuum: 'full', freed_pages: before - free() };
  }
  return { vacuum: 'none', freed_pages: 0 };
}

export class RetentionService {
  readonly #d: RetentionDeps;

  constructor(deps: RetentionDeps) {
    this.#d = deps;
  }

  /** Every purge of the retention settings, then vacuum. Stops between steps (and models) when `signal` is aborted. */
  async run(signal: AbortSignal = new AbortController().signal): Promise<JobResult> {
    const { config, clock } = this.#d;
    const r = config.retention;
    const now = clock.now();
    const ago = (ms: number) => new Date(now.getTime() - ms);
    const deleted = await this.#d.sharing.purgeDeletedModels(ago(r.deleted_models), signal);
    signal.throwIfAborted();
    const history = await this.#d.sharing.pruneHistory(r.history_baselines, signal);
    signal.throwIfAborted();
    const events = this.#d.sharing.purgeEvents(ago(r.model_events));
    const identity = purgeIdentity(this.#d.db, now, {
      sessionsMs: r.sessions,
      sessionIdleMs: config.auth.session_idle,
      refreshTokensMs: r.refresh_tokens,
      personalTokensMs: r.personal_tokens,
      deviceRequestsMs: r.device_requests,
      loginRequestsMs: r.login_requests,
    });
    const jobRuns = this.#d.runner.purgeRuns(ago(config.jobs.runs_kept));
    const counts = {
      deleted_models: deleted.models,
      deleted_model_blobs: deleted.blobs,
      pruned_packets: history.packets,
      model_events: events,
      ...identity,
      job_runs: jobRuns,
    };
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    if (total > 0) this.#d.audit.record({ action: 'retention.purge', outcome: 'allowed', details: counts });
    const shrunk = vacuum(this.#d.db);
    const said = Object.entries(counts).filter(([, n]) => n > 0).map(([k, n]) => `${n} ${k.replaceAll('_', ' ')}`);
    return { summary: said.length > 0 ? `purged ${said.join(', ')}; vacuum ${shrunk.vacuum}` : `nothing to purge; vacuum ${shrunk.vacuum}`, figures: { ...counts, ...shrunk } };
  }

  /** Removes blob files without a catalog row older than retention.orphan_blobs, and stale staging files. */
  async sweepBlobs(): Promise<JobResult> {
    const swept = await this.#d.blobs.sweep(this.#d.config.retention.orphan_blobs);
    if (swept.orphans + swept.staging > 0) this.#d.audit.record({ action: 'retention.blob_sweep', outcome: 'allowed', details: swept });
    return { summary: `removed ${swept.orphans} orphan blob file(s) and ${swept.staging} staging file(s)`, figures: swept };
  }
}
