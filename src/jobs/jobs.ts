/**
 * Every scheduled job, in one list: what runs when. Each entry calls a domain's plain function.
 */
import type { OrganizationsService } from '../orgs/service.ts';
import type { TlsService } from '../tls/service.ts';
import type { Job } from './scheduler.ts';

export interface JobDeps {
  /** Absent when tls.mode is off. */
  tls: TlsService | undefined;
  /** Absent for callers that run no organization jobs. */
  orgs?: OrganizationsService | undefined;
}

export function scheduledJobs(deps: JobDeps): Job[] {
  const jobs: Job[] = [];
  // Hourly: renews the managed certificate when due (and within the hour of a missed run), picks up
  // changed certificate files and imported certificates, and logs expiry warnings.
  if (deps.tls) jobs.push({ name: 'tls-renewal', schedule: '17 * * * *', run: () => deps.tls!.refresh() });
  // Daily: invitations that expired or were answered more than 30 days ago are deleted (with their sealed addresses).
  if (deps.orgs) {
    const orgs = deps.orgs;
    jobs.push({ name: 'invitation-retention', schedule: '41 3 * * *', run: async () => `deleted ${orgs.invitations.purge()} old invitations` });
  }
  return jobs;
}
