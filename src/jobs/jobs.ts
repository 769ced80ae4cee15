/**
 * Every scheduled job, in one list: what runs when. Each entry calls a domain's plain function.
 */
import type { TlsService } from '../tls/service.ts';
import type { Job } from './scheduler.ts';

export interface JobDeps {
  /** Absent when tls.mode is off. */
  tls: TlsService | undefined;
}

export function scheduledJobs(deps: JobDeps): Job[] {
  const jobs: Job[] = [];
  // Hourly: renews the managed certificate when due (and within the hour of a missed run), picks up
  // changed certificate files and imported certificates, and logs expiry warnings.
  if (deps.tls) jobs.push({ name: 'tls-renewal', schedule: '17 * * * *', run: () => deps.tls!.refresh() });
  return jobs;
}
