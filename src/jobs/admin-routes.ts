/**
 * `/api/v1/admin/jobs` and `/api/v1/admin/backups` (server admins): what `modelshare jobs` and
 * `modelshare backup list` show, and running a job now. A run started here goes through the same
 * runner as the schedule and the command line, so it never overlaps the same job (or one of its lease).
 */
import { z } from 'zod';
import type { Config } from '../config/options.ts';
import { AppError } from '../errors.ts';
import { access, route, type AnyRoute } from '../http/route-table.ts';
import { serverAdminGate } from '../orgs/gates.ts';
import type { OrganizationsService } from '../orgs/service.ts';
import { nextRun } from './scheduler.ts';
import type { Jobs } from './setup.ts';

const runsQuery = z.object({ runs: z.string().regex(/^[1-9]\d?$/, 'must be from 1 to 99').transform(Number).optional() });

export function jobAdminRoutes(jobs: Jobs | undefined, config: Config, orgs: OrganizationsService): AnyRoute[] {
  const gate = serverAdminGate(orgs);
  const admin = access.token('admin');
  const present = (name: string, runs: number) => {
    const job = jobs!.find(name)!;
    const next = nextRun(job, config.jobs.time_zone);
    return {
      name: job.name,
      schedule: job.schedule,
      time_zone: config.jobs.time_zone || null,
      next_run: next ? next.toISOString() : null,
      last_runs: jobs!.runner.lastRuns(job.name, runs).map((r) => ({
        trigger: r.trigger,
        started_at: r.startedAt,
        ended_at: r.endedAt,
        outcome: r.outcome,
        summary: r.summary,
        figures: r.figures,
      })),
    };
  };
  const known = (name: string) => {
    if (!jobs?.find(name)) throw new AppError('not_found', 'There is no such job');
    return name;
  };
  return [
    route({
      method: 'GET', path: '/api/v1/admin/jobs', summary: 'Every scheduled job with its schedule, next run and last runs (server admins)', access: admin, gate, query: runsQuery,
      handler: ({ query }) => ({ jobs: (jobs?.list ?? []).map((j) => present(j.name, query.runs ?? 3)) }),
    }),
    route({
      method: 'POST', path: '/api/v1/admin/jobs/:name/run', summary: 'Run a job now, as the schedule would (server admins)', access: admin, gate, params: z.object({ name: z.string() }),
      handler: async ({ params, actor, ip }) => {
        const job = jobs!.find(known(params.name))!;
        const report = await jobs!.runner.run(job, 'command');
        orgs.record(actor.person, { action: 'server.job_run', outcome: report.outcome === 'ok' ? 'allowed' : 'failed', target: { type: 'job', id: job.name }, source: ip, details: { outcome: report.outcome } });
        if (report.outcome === 'skipped') throw new AppError('conflict', report.summary);
        return { job: report.job, outcome: report.outcome, summary: report.summary, figures: report.figures, error: report.error, ms: report.ms };
      },
    }),
    route({
      method: 'GET', path: '/api/v1/admin/backups', summary: 'The backups in backup.dir, newest first (server admins)', access: admin, gate,
      handler: async () => {
        if (!jobs?.backups) return { configured: false, backups: [] };
        const list = await jobs.backups.store.list();
        return {
          configured: true,
          backups: list.reverse().map((m) => ({
            id: m.id,
            created_at: m.created_at,
            completed_at: m.completed_at,
            server_version: m.server_version,
            schema_version: m.schema_version,
            blobs: m.blobs.length,
            blob_bytes: m.stats.blob_bytes,
            copied_blobs: m.stats.copied_blobs,
            database_bytes: m.database.size,
          })),
          last_verification: jobs.runner.lastRuns('backup-verify', 1)[0] ?? null,
        };
      },
    }),
  ];
}
