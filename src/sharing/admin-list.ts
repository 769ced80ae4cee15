/**
 * The admin lists of models: every model of an organization (or of the server) with its owner,
 * size, packet count, member count and last activity (kept in `model_stats` by the triggers of
 * migration 0010), paged by keyset, sorted and searched by name.
 *
 * Names are sealed, each under its own model's data key, so the database cannot sort or search
 * them. We open them on the server rather than keep a blind index of name tokens or prefixes: such
 * an index would put on disk which models share a word or a prefix (the frequency analysis
 * CipherSweet warns about), grow with every prefix of every word, and still could not sort by name.
 * Opening is cheap (one AES-GCM of a few dozen bytes under a cached key) and each name is opened
 * once per change: a process-memory cache keyed by id and `updated_at` holds the opened names,
 * never written anywhere. A name search over another sort reads the keyset in batches of
 * A search first matches every name in scope, read from a covering index of (organization, id,
 * updated_at, sealed name) and opened from the cache: a 10,000-model organization is ~10,000 small
 * index entries and, once cached, no decryption. Rare matches are read by id and sorted here; common
 * ones (whichever costs fewer rows) walk the keyset of the sort in batches of `batchSize` rows until
 * a page is full, so memory stays bounded. A sort by name sorts the opened names here and reads
 * whole rows for the page only.
 */
import type { Statement } from 'better-sqlite3';
import type { Keyring } from '../crypto/keyring.ts';
import { openText } from '../crypto/sealed.ts';
import type { Db } from '../db/open.ts';

export type ModelSort = 'name' | 'size' | 'activity' | 'created';
export type SortOrder = 'asc' | 'desc';

export interface ModelListQuery {
  /** One organization's models, or every model of the server (null). */
  organizationId: string | null;
  deleted: 'exclude' | 'include' | 'only';
  /** Part of the name, already normalized (see normalizeSearch). */
  search: string | undefined;
  sort: ModelSort;
  order: SortOrder;
  /** The sort key and id of the last row of the previous page. */
  after: { key: string | number; id: string } | undefined;
  limit: number;
}

export interface ModelSummary {
  id: string;
  name: string;
  organizationId: string | null;
  ownerId: string;
  head: number;
  createdAt: string;
  updatedAt: string;
  deletedAt: string | null;
  bytes: number;
  packets: number;
  members: number;
  lastActivityAt: string;
}

interface SummaryRow {
  id: string;
  organization_id: string | null;
  name_sealed: Buffer;
  owner_id: string;
  head: number;
  created_at: string;
  updated_at: string;
  deleted_at: string | null;
  bytes: number;
  packets: number;
  members: number;
  last_activity_at: string;
}

const sortColumn: Record<Exclude<ModelSort, 'name'>, string> = { created: 'm.created_at', size: 's.bytes', activity: 's.last_activity_at' };
const columns = 'm.id, m.organization_id, m.name_sealed, m.owner_id, m.head, m.created_at, m.updated_at, m.deleted_at, s.bytes, s.packets, s.members, s.last_activity_at';
const deletedClause = { exclude: 'm.deleted_at IS NULL', include: '1', only: 'm.deleted_at IS NOT NULL' } as const;
const batchSize = 500;
const cacheLimit = 200_000;

/** The key a row is sorted by, as its cursor carries it. */
export function sortKey(sort: ModelSort, m: ModelSummary): string | number {
  switch (sort) {
    case 'name':
      return m.name.normalize('NFKC').toLowerCase();
    case 'created':
      return m.createdAt;
    case 'size':
      return m.bytes;
    case 'activity':
      return m.lastActivityAt;
  }
}

export class ModelList {
  readonly #db: Db;
  readonly #keys: Keyring;
  /** Statements by shape; the shapes are the few combinations of fixed fragments below, never input. */
  readonly #statements = new Map<string, Statement>();
  readonly #names = new Map<string, { updatedAt: string; name: string; folded: string }>();
  readonly #byId: Statement<[string], SummaryRow>;
  readonly #sealedName: Statement<[string], Buffer>;

  constructor(db: Db, keys: Keyring) {
    this.#db = db;
    this.#keys = keys;
    this.#byId = db.prepare(`SELECT ${columns} FROM models m JOIN model_stats s ON s.model_id = m.id WHERE m.id = ?`);
    this.#sealedName = db.prepare<[string], Buffer>('SELECT name_sealed FROM models WHERE id = ?').pluck();
  }

  #statement(shape: string, sql: () => string): Statement {
    let statement = this.#statements.get(shape);
    if (!statement) this.#statements.set(shape, (statement = this.#db.prepare(sql())));
    return statement;
  }

  #name(id: string, updatedAt: string, sealed: Buffer): { name: string; folded: string } {
    const cached = this.#names.get(id);
    if (cached && cached.updatedAt === updatedAt) return cached;
    const name = openText(this.#keys, { table: 'models', column: 'name', row: id }, sealed);
    if (this.#names.size >= cacheLimit) this.#names.clear();
    const entry = { updatedAt, name, folded: name.normalize('NFKC').toLowerCase() };
    this.#names.set(id, entry);
    return entry;
  }

  #summary(row: SummaryRow): ModelSummary {
    return {
      id: row.id,
      name: this.#name(row.id, row.updated_at, row.name_sealed).name,
      organizationId: row.organization_id,
      ownerId: row.owner_id,
      head: row.head,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
      deletedAt: row.deleted_at,
      bytes: row.bytes,
      packets: row.packets,
      members: row.members,
      lastActivityAt: row.last_activity_at,
    };
  }

  /** One model's summary (any organization, deleted or not); the caller has checked who may see it. */
  get(id: string): ModelSummary | undefined {
    const row = this.#byId.get(id);
    return row ? this.#summary(row) : undefined;
  }

  /** How many models the scope (and search) holds: the console's "N models; page P of Q". */
  count(q: Pick<ModelListQuery, 'organizationId' | 'deleted' | 'search'>): number {
    const full = { ...q, sort: 'created', order: 'desc', after: undefined, limit: 0 } satisfies ModelListQuery;
    if (q.search !== undefined) return this.#scan(full).filter((n) => n.folded.includes(q.search!)).length;
    const scope = this.#scope(full);
    const count = this.#statement(`${scope.where}|count`, () => `SELECT count(*) AS n FROM models m WHERE ${scope.where}`);
    return (count.get(scope.params) as { n: number }).n;
  }

  /** A page of `limit` models and whether more follow. */
  page(q: ModelListQuery): { models: ModelSummary[]; more: boolean } {
    const found = q.sort === 'name' ? this.#byName(q) : this.#byKeyset(q);
    return { models: found.slice(0, q.limit), more: found.length > q.limit };
  }

  #scope(q: ModelListQuery): { where: string; params: Record<string, unknown> } {
    const scope = q.organizationId === null ? '1' : 'm.organization_id = @org';
    return { where: `${scope} AND ${deletedClause[q.deleted]}`, params: q.organizationId === null ? {} : { org: q.organizationId } };
  }

  /** Sorted by a plain column: keyset in SQL; with a search, batch after batch until a page is full. */
  #byKeyset(q: ModelListQuery): ModelSummary[] {
    const sort = q.sort as Exclude<ModelSort, 'name'>;
    const column = sortColumn[sort];
    const scope = this.#scope(q);
    const direction = q.order === 'asc' ? 'ASC' : 'DESC';
    const compare = q.order === 'asc' ? '>' : '<';
    const first = this.#statement(`${scope.where}|${sort}|${direction}|first`, () => `SELECT ${columns} FROM models m JOIN model_stats s ON s.model_id = m.id WHERE ${scope.where} ORDER BY ${column} ${direction}, m.id ${direction} LIMIT @limit`);
    const next = this.#statement(`${scope.where}|${sort}|${direction}|after`, () => `SELECT ${columns} FROM models m JOIN model_stats s ON s.model_id = m.id WHERE ${scope.where} AND (${column}, m.id) ${compare} (@key, @id) ORDER BY ${column} ${direction}, m.id ${direction} LIMIT @limit`);
    const wanted = q.limit + 1;
    if (q.search !== undefined) {
      // Few matches (a rare word): read just those rows and sort them here. Many: walk the keyset.
      // Reading m matches by id costs about m rows; walking the keyset about wanted × n / m of n.
      const scanned = this.#scan(q);
      const matching = scanned.filter((n) => n.folded.includes(q.search!));
      if (matching.length * matching.length <= wanted * scanned.length) return this.#sortHere(q, matching.map((n) => n.id));
    }
    const found: ModelSummary[] = [];
    let after = q.after;
    for (;;) {
      const take = q.search === undefined ? wanted - found.length : batchSize;
      const rows = (after ? next.all({ ...scope.params, key: after.key, id: after.id, limit: take }) : first.all({ ...scope.params, limit: take })) as SummaryRow[];
      for (const row of rows) {
        if (q.search !== undefined && !this.#name(row.id, row.updated_at, row.name_sealed).folded.includes(q.search)) continue;
        found.push(this.#summary(row));
        if (found.length === wanted) return found;
      }
      if (rows.length < take) return found;
      const last = rows.at(-1)!;
      after = { key: sort === 'size' ? last.bytes : sort === 'created' ? last.created_at : last.last_activity_at, id: last.id };
    }
  }

  /** Every model in scope with its opened, case-folded name: one read of a covering index (migration 0010). */
  #scan(q: ModelListQuery): { id: string; folded: string }[] {
    const scope = this.#scope(q);
    // Sealed names are read only for models not in the cache: a Buffer per row is most of the cost.
    const all = this.#statement(`${scope.where}|names`, () => `SELECT m.id, m.updated_at FROM models m INDEXED BY ${q.organizationId === null ? 'models_names' : 'models_names_by_organization'} WHERE ${scope.where}`);
    return (all.all(scope.params) as { id: string; updated_at: string }[]).map((row) => {
      const cached = this.#names.get(row.id);
      if (cached && cached.updatedAt === row.updated_at) return { id: row.id, folded: cached.folded };
      const sealed = this.#sealedName.get(row.id);
      // A model purged since the scan began matches nothing.
      return { id: row.id, folded: sealed ? this.#name(row.id, row.updated_at, sealed).folded : '' };
    });
  }

  #compare(order: SortOrder) {
    const sign = order === 'asc' ? 1 : -1;
    return (a: { key: string | number; id: string }, b: { key: string | number; id: string }) => sign * (a.key < b.key ? -1 : a.key > b.key ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  }

  /** Sorted by name: every name in scope is opened (or found in the cache) and sorted here. */
  #byName(q: ModelListQuery): ModelSummary[] {
    const compare = this.#compare(q.order);
    const after = q.after ? { key: String(q.after.key), id: q.after.id } : undefined;
    const keyed = this.#scan(q)
      .filter((n) => q.search === undefined || n.folded.includes(q.search))
      .map((n) => ({ key: n.folded, id: n.id }))
      .filter((k) => !after || compare(k, after) > 0)
      .sort(compare);
    return keyed.slice(0, q.limit + 1).flatMap((k) => {
      const row = this.#byId.get(k.id);
      return row ? [this.#summary(row)] : [];
    });
  }

  /** A few models by id, sorted here by the query's sort, after its cursor. */
  #sortHere(q: ModelListQuery, ids: string[]): ModelSummary[] {
    const compare = this.#compare(q.order);
    return ids
      .flatMap((id) => {
        const row = this.#byId.get(id);
        return row ? [this.#summary(row)] : [];
      })
      .map((m) => ({ m, key: sortKey(q.sort, m), id: m.id }))
      .filter((k) => !q.after || compare(k, q.after) > 0)
      .sort(compare)
      .slice(0, q.limit + 1)
      .map((k) => k.m);
  }
}
