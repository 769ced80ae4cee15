/**
 * Read functions for the admins' console pages: the organization's models (search, sort, page), its
 * audit log (filters), and the server's people. Interim: the admin API services (branch `adminapi`) will
 * own these listings; switch the console to them once they are on main.
 */
import type { AuditEvent, AuditService } from '../audit/audit-service.ts';
import { AppError } from '../errors.ts';
import type { Db } from '../db/open.ts';
import type { People, Person } from '../identity/people.ts';
import type { Model, ModelsRepo } from '../sharing/models-repo.ts';

export type ModelSort = 'name' | 'updated' | 'created';

export interface ModelQuery {
  q: string;
  sort: ModelSort;
  deleted: boolean;
  page: number;
  perPage: number;
}

export interface AuditQuery {
  action: string;
  outcome: '' | 'allowed' | 'denied' | 'failed';
  from: string;
  to: string;
  limit: number;
}

export class ConsoleReads {
  readonly #sql;
  readonly #models: ModelsRepo;
  readonly #audit: AuditService;
  readonly #people: People;

  constructor(db: Db, models: ModelsRepo, audit: AuditService, people: People) {
    this.#people = people;
    this.#models = models;
    this.#audit = audit;
    this.#sql = {
      people: db.prepare<[number, number], { id: string }>('SELECT id FROM people ORDER BY created_at, id LIMIT ? OFFSET ?'),
      peopleCount: db.prepare<[], { n: number }>('SELECT count(*) AS n FROM people'),
      modelIds: db.prepare<[string, number], { id: string }>('SELECT id FROM models WHERE organization_id = ? AND (deleted_at IS NOT NULL) = ? ORDER BY id'),
      // The organization's entries as main's admin audit query (src/audit/query.ts) defines them: about
      // the organization, its models, or a member acted on by a member. Filters are bound values.
      audit: db.prepare<[string, string, string, string, string, string, string, string, string, string, number], { id: string }>(
        `SELECT id FROM audit_events a
         WHERE ((a.target_type = 'organization' AND a.target_id = ?)
             OR (a.target_type = 'model' AND a.target_id IN (SELECT id FROM models WHERE organization_id = ?))
             OR (a.target_type = 'person' AND a.target_id IN (SELECT person_id FROM memberships WHERE organization_id = ?)
                 AND a.actor_id IN (SELECT person_id FROM memberships WHERE organization_id = ?)))
           AND (? = '' OR a.action LIKE ? || '%')
           AND (? = '' OR a.outcome = ?)
           AND a.at >= ? AND a.at < ?
         ORDER BY a.at DESC, a.id LIMIT ?`,
      ),
    };
  }

  /**
   * A page of the organization's models. Names are sealed, so search and sort by name open them:
   * one pass over the organization's rows (about 10,000 in tens of milliseconds), then a slice.
   */
  models(organizationId: string, query: ModelQuery): { models: Model[]; total: number } {
    const needle = query.q.trim().toLowerCase();
    let all = this.#sql.modelIds.all(organizationId, query.deleted ? 1 : 0).map((r) => this.#models.get(r.id)!);
    if (needle) all = all.filter((m) => m.name.toLowerCase().includes(needle) || m.id === needle);
    const by: Record<ModelSort, (a: Model, b: Model) => number> = {
      name: (a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id),
      updated: (a, b) => b.updatedAt.localeCompare(a.updatedAt) || a.id.localeCompare(b.id),
      created: (a, b) => b.createdAt.localeCompare(a.createdAt) || a.id.localeCompare(b.id),
    };
    all.sort(by[query.sort]);
    const start = (query.page - 1) * query.perPage;
    return { models: all.slice(start, start + query.perPage), total: all.length };
  }

  /** A page of everyone known to the server, oldest first (for server admins). */
  people(page: number, perPage: number): { people: Person[]; total: number } {
    const ids = this.#sql.people.all(perPage, (page - 1) * perPage);
    return { people: ids.flatMap((r) => this.#people.get(r.id) ?? []), total: this.#sql.peopleCount.get()!.n };
  }

  /** A model of another organization (or none) is not found here, like one that does not exist. */
  assertInOrganization(modelId: string, organizationId: string): void {
    if (this.#models.get(modelId)?.organizationId !== organizationId) throw new AppError('not_found', 'There is no such model in this organization');
  }

  /** The organization's audit events, newest first, filtered. */
  audit(organizationId: string, query: AuditQuery): AuditEvent[] {
    const ids = this.#sql.audit.all(organizationId, organizationId, organizationId, organizationId, query.action, query.action, query.outcome, query.outcome, query.from || '0000', query.to || '9999', query.limit);
    return this.#audit.byIds(ids.map((r) => r.id));
  }
}
