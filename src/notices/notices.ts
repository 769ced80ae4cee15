/**
 * Notices for admins (issue 22): what needs an admin's eye. For an organization: people who left it
 * (the provider stopped vouching for them at a sign-in or, asked again at a token refresh, refused
 * their grant or no longer gave the membership; read from the audit log, where either recorded it) or have not signed in for `notices.inactive_after`, each with the models they own;
 * models whose owner is gone (to re-own with POST /api/v1/models/:id/owner); locked models; seats
 * nearly used up. Server admins also see failed backups (the job runs) and an expiring certificate.
 * Everything is read, nothing is changed; ids, names and addresses go only to those admins.
 */
import type { Clock } from '../clock.ts';
import type { Config } from '../config/options.ts';
import type { Db } from '../db/open.ts';
import type { OrganizationsService } from '../orgs/service.ts';
import type { Organization } from '../orgs/repo.ts';
import type { LocksService } from '../sharing/locks.ts';
import type { ModelsRepo } from '../sharing/models-repo.ts';
import type { TlsService } from '../tls/service.ts';

export interface NoticeDeps {
  db: Db;
  clock: Clock;
  orgs: OrganizationsService;
  models: ModelsRepo;
  locks: LocksService;
  tls: TlsService | undefined;
  inactiveAfterMs: number;
  seatsWarnPercent: number;
}

export type Notice = Record<string, unknown> & { kind: string; organization_id?: string };

export class Notices {
  readonly #d: NoticeDeps;
  readonly #sql;

  constructor(d: NoticeDeps) {
    this.#d = d;
    this.#sql = {
      left: d.db.prepare<[string], { actor_id: string; at: string }>(
        "SELECT actor_id, max(at) AS at FROM audit_events WHERE action = 'org.member_remove' AND reason = 'claims' AND target_type = 'organization' AND target_id = ? AND actor_id IS NOT NULL GROUP BY actor_id ORDER BY at",
      ),
      modelsOf: d.db.prepare<[string], { id: string; owner_id: string }>('SELECT id, owner_id FROM models WHERE organization_id = ? AND deleted_at IS NULL ORDER BY created_at, id'),
      failedBackups: d.db.prepare<[], { id: number; job: string; started_at: string; ended_at: string | null; error: string | null }>(
        `SELECT r.id, r.job, r.started_at, r.ended_at, r.error FROM job_runs r
         WHERE r.job LIKE 'backup%' AND r.outcome IN ('failed', 'interrupted')
           AND r.id = (SELECT max(id) FROM job_runs WHERE job = r.job AND outcome IN ('ok', 'failed', 'interrupted'))
         ORDER BY r.id`,
      ),
    };
  }

  #person(personId: string) {
    const person = this.#d.orgs.identity.people.get(personId);
    return { person_id: personId, display_name: this.#d.orgs.identity.publicPerson(personId).display_name, email: person && !person.erasedAt ? person.email : null };
  }

  #model(id: string) {
    const model = this.#d.models.get(id)!;
    return { id, name: model.name };
  }

  /** The notices of one organization, for its admins. */
  forOrganization(org: Organization): Notice[] {
    const notices: Notice[] = [];
    const members = this.#d.orgs.repo.members(org.id);
    const memberIds = new Set(members.map((m) => m.personId));
    const models = this.#sql.modelsOf.all(org.id);
    const ownedBy = (personId: string) => models.filter((m) => m.owner_id === personId).map((m) => this.#model(m.id));
    const base = { organization_id: org.id };

    for (const left of this.#sql.left.all(org.id)) {
      if (memberIds.has(left.actor_id)) continue;
      notices.push({ kind: 'person_left', ...base, ...this.#person(left.actor_id), left_at: left.at, reason: 'provider_stopped_vouching', models: ownedBy(left.actor_id) });
    }
    const cutoff = new Date(this.#d.clock.now().getTime() - this.#d.inactiveAfterMs).toISOString();
    for (const m of members) {
      const person = this.#d.orgs.identity.people.get(m.personId);
      if (!person || person.erasedAt) continue;
      const last = person.lastSignInAt ?? m.createdAt;
      if (last < cutoff) notices.push({ kind: 'person_inactive', ...base, ...this.#person(m.personId), role: m.role, last_sign_in_at: person.lastSignInAt, models: ownedBy(m.personId) });
    }
    for (const m of models) {
      const owner = this.#d.orgs.identity.people.get(m.owner_id);
      if (!memberIds.has(m.owner_id) || !owner || owner.erasedAt) {
        notices.push({ kind: 'model_owner_gone', ...base, model: this.#model(m.id), owner: this.#person(m.owner_id), action: { method: 'POST', path: `/api/v1/models/${m.id}/owner` } });
      }
    }
    const modelIds = new Set(models.map((m) => m.id));
    for (const lock of this.#d.locks.all()) {
      if (!modelIds.has(lock.modelId)) continue;
      notices.push({ kind: 'model_locked', ...base, model: this.#model(lock.modelId), reason: lock.reason, locked_by: lock.lockedBy, lock_owner_id: lock.lockOwnerId, locked_at: lock.lockedAt });
    }
    const used = this.#d.orgs.repo.seatsUsed(org.id);
    if (org.seats > 0 && used * 100 >= org.seats * this.#d.seatsWarnPercent) {
      notices.push({ kind: 'seats_nearly_used', ...base, seats: org.seats, used, available: Math.max(0, org.seats - used) });
    }
    return notices;
  }

  /** Every organization's notices, then the server's own: failed backups and the certificate. */
  forServer(): Notice[] {
    const notices = this.#d.orgs.repo.all().flatMap((org) => this.forOrganization(org));
    for (const run of this.#sql.failedBackups.all()) {
      notices.push({ kind: 'backup_failed', job: run.job, run_id: run.id, started_at: run.started_at, ended_at: run.ended_at, error: run.error });
    }
    const tls = this.#d.tls?.status();
    if (tls?.warning) notices.push({ kind: 'certificate_expiring', warning: tls.warning, not_after: tls.not_after, days_left: tls.days_left, mode: tls.mode });
    return notices;
  }
}

/** The notices of a server, with the `notices.*` settings of its config (one place reads them). */
export function noticesFrom(config: Config, d: Omit<NoticeDeps, 'inactiveAfterMs' | 'seatsWarnPercent'>): Notices {
  return new Notices({ ...d, inactiveAfterMs: config.notices.inactive_after, seatsWarnPercent: config.notices.seats_warn_percent });
}
