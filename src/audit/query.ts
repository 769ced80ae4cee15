/**
 * Reading the audit log for admins: filters, keyset pages newest first, and the rows of an export.
 * Reads the columns the log has always had (id, at, action, outcome, actor_id, target_type,
 * target_id, reason, details_sealed) and never writes.
 *
 * What an organization admin sees of the log ("entries of the organization"), precisely:
 *   1. entries whose target is the organization itself (target_type 'organization', its id);
 *   2. entries whose target is one of its models, deleted ones included (target_type 'model');
 *   3. entries whose target is a person who is now a member of the organization, made by an actor
 *      who is now a member too (members acting on members: role and profile changes, and the like).
 * Membership is taken as it is at the time of the query. The sealed personal data of an entry (the
 * actor's address, the source address and the details) is opened for an organization admin only
 * when its actor is a member of the organization now; an outsider's attempt on the organization's
 * model shows what was tried and when, but not who from where. Server admins see every entry, opened.
 *
 * Paging cost: with no filter, or an actor, action or target filter, a page is one indexed keyset
 * range (migration 0010). An organization's view reads its entries through the target index and
 * keeps the newest `limit` of them, so a page costs in proportion to that organization's entries
 * after the cursor (narrow it with `from`/`to` on very large logs), never to the whole log.
 *
 * The SQL is chosen from a few fixed fragments by which filters are present and prepared once per
 * shape; values are always bound, never written into the text.
 */
import type { Statement } from 'better-sqlite3';
import type { Keyring } from '../crypto/keyring.ts';
import { openText, SealedValueError } from '../crypto/sealed.ts';
import type { Db } from '../db/open.ts';
import type { ChainedFields } from './chain.ts';

export interface AuditFilter {
  actorId?: string | undefined;
  action?: string | undefined;
  /** Every action that starts with this, e.g. `model.` or `auth.`. */
  actionPrefix?: string | undefined;
  targetType?: string | undefined;
  targetId?: string | undefined;
  outcome?: 'allowed' | 'denied' | 'failed' | undefined;
  /** From this instant on (inclusive), RFC 3339 UTC. */
  from?: string | undefined;
  /** Before this instant (exclusive). */
  to?: string | undefined;
}

/** Whose view of the log: every entry (server admins) or one organization's (its admins). */
export type AuditScope = { kind: 'server' } | { kind: 'organization'; id: string };

/** An entry's plain columns (as the chain defines them), its sealed details, and whether they may be opened. */
export interface AuditRow extends Omit<ChainedFields, 'seq' | 'details_digest'> {
  details_sealed: Buffer | null;
  /** 1 when the viewer may see the entry's personal data. */
  personal: number;
}

/** One entry as admins get it; `personal_data` says whether actor e-mail, source and details were opened. */
export interface AuditView {
  id: string;
  at: string;
  action: string;
  outcome: string;
  actor_id: string | null;
  actor_email: string | null;
  target_type: string | null;
  target_id: string | null;
  reason: string | null;
  source: string | null;
  details: Record<string, unknown> | null;
  personal_data: 'shown' | 'withheld' | 'erased' | 'unreadable';
}

const organizationScope = `(
  (e.target_type = 'organization' AND e.target_id = @org)
  OR (e.target_type = 'model' AND e.target_id IN (SELECT id FROM models WHERE organization_id = @org))
  OR (e.target_type = 'person' AND e.target_id IN (SELECT person_id FROM memberships WHERE organization_id = @org)
      AND e.actor_id IN (SELECT person_id FROM memberships WHERE organization_id = @org)))`;
const organizationPersonal = 'EXISTS (SELECT 1 FROM memberships WHERE organization_id = @org AND person_id = e.actor_id)';

const filterFragments: Record<keyof AuditFilter, string> = {
  actorId: 'e.actor_id = @actorId',
  action: 'e.action = @action',
  // A prefix (`auth.*`) matches many actions: walk the (at, id) index newest first and test each row
  // (the unary + keeps SQLite from using the action index, which would sort every match per page).
  actionPrefix: "+e.action >= @actionPrefix AND +e.action < @actionPrefix || char(65535)",
  targetType: 'e.target_type = @targetType',
  targetId: 'e.target_id = @targetId',
  outcome: 'e.outcome = @outcome',
  from: 'e.at >= @from',
  to: 'e.at < @to',
};

export class AuditQuery {
  readonly #db: Db;
  readonly #keys: Keyring;
  readonly #statements = new Map<string, Statement>();

  constructor(db: Db, keys: Keyring) {
    this.#db = db;
    this.#keys = keys;
  }

  /** The SQL of a filtered, scoped, newest-first read, and its bound values. */
  sql(scope: AuditScope, filter: AuditFilter, after: { at: string; id: string } | undefined, limited: boolean): { shape: string; text: string; params: Record<string, unknown> } {
    const present = (Object.keys(filterFragments) as (keyof AuditFilter)[]).filter((k) => filter[k] !== undefined);
    const where = present.map((k) => filterFragments[k]);
    const params: Record<string, unknown> = Object.fromEntries(present.map((k) => [k, filter[k]]));
    if (scope.kind === 'organization') {
      where.push(organizationScope);
      params['org'] = scope.id;
    }
    if (after) {
      where.push('(e.at, e.id) < (@afterAt, @afterId)');
      params['afterAt'] = after.at;
      params['afterId'] = after.id;
    }
    if (limited) params['limit'] = 0;
    const personal = scope.kind === 'organization' ? organizationPersonal : '1';
    const text =
      `SELECT e.id, e.at, e.action, e.outcome, e.actor_id, e.target_type, e.target_id, e.reason, e.details_sealed, ${personal} AS personal ` +
      `FROM audit_events e WHERE ${where.length ? where.join(' AND ') : '1'} ORDER BY e.at DESC, e.id DESC${limited ? ' LIMIT @limit' : ''}`;
    return { shape: `${scope.kind}|${present.join(',')}|${after ? 'after' : 'first'}|${limited}`, text, params };
  }

  /** A page of `limit` entries, newest first, after the cursor; and whether more follow. */
  page(scope: AuditScope, filter: AuditFilter, after: { at: string; id: string } | undefined, limit: number): { entries: AuditView[]; more: boolean } {
    const { shape, text, params } = this.sql(scope, filter, after, true);
    let statement = this.#statements.get(shape);
    if (!statement) this.#statements.set(shape, (statement = this.#db.prepare(text)));
    const rows = statement.all({ ...params, limit: limit + 1 }) as AuditRow[];
    return { entries: rows.slice(0, limit).map((r) => this.view(r)), more: rows.length > limit };
  }

  /** Opens an entry for its viewer: personal data only where `personal` allows. */
  view(row: AuditRow): AuditView {
    const base = { id: row.id, at: row.at, action: row.action, outcome: row.outcome, actor_id: row.actor_id, target_type: row.target_type, target_id: row.target_id, reason: row.reason };
    const none = { actor_email: null, source: null, details: null };
    if (!row.personal) return { ...base, ...none, personal_data: 'withheld' };
    if (!row.details_sealed) return { ...base, ...none, personal_data: 'erased' };
    let opened: Record<string, unknown>;
    try {
      opened = JSON.parse(openText(this.#keys, { table: 'audit_events', column: 'details', row: row.id }, row.details_sealed)) as Record<string, unknown>;
    } catch (error) {
      if (error instanceof SealedValueError || error instanceof SyntaxError) return { ...base, ...none, personal_data: 'unreadable' };
      throw error;
    }
    const { actor_email, source, ...details } = opened;
    return { ...base, actor_email: typeof actor_email === 'string' ? actor_email : null, source: typeof source === 'string' ? source : null, details, personal_data: 'shown' };
  }
}
