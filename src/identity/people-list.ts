/**
 * The admin list of people: paged by keyset on a plain column, or sorted by name. Names and
 * addresses are sealed; an exact address is found by its blind index (emailIndex), and part of a
 * name or address by opening them on the server, in bounded batches, as sharing/admin-list.ts
 * explains for model names (a server has hundreds to a few thousand people). Erased people are not
 * listed: they have nothing left to show.
 */
import type { Statement } from 'better-sqlite3';
import type { Db } from '../db/open.ts';
import { openText } from '../crypto/sealed.ts';
import type { Keyring } from '../crypto/keyring.ts';
import { emailIndex, type People, type Person } from './people.ts';

export type PeopleSort = 'name' | 'created' | 'last_sign_in';

export interface PeopleListQuery {
  /** Normalized search text: an exact address when it has an `@` and no space, else part of a name or address. */
  search: string | undefined;
  serverAdmin: boolean | undefined;
  blocked: boolean | undefined;
  sort: PeopleSort;
  order: 'asc' | 'desc';
  after: { key: string | number; id: string } | undefined;
  limit: number;
}

interface Row {
  id: string;
  email_sealed: Buffer | null;
  name_sealed: Buffer | null;
  created_at: string;
  last_sign_in: string;
}

const sortColumn = { created: 'created_at', last_sign_in: "coalesce(last_sign_in_at, '')" } as const;
const batchSize = 500;

export function peopleSortKey(sort: PeopleSort, p: Person): string {
  if (sort === 'created') return p.createdAt;
  if (sort === 'last_sign_in') return p.lastSignInAt ?? '';
  return (p.name ?? p.email ?? '').normalize('NFKC').toLowerCase();
}

export class PeopleList {
  readonly #db: Db;
  readonly #keys: Keyring;
  readonly #people: People;
  readonly #statements = new Map<string, Statement>();

  constructor(db: Db, keys: Keyring, people: People) {
    this.#db = db;
    this.#keys = keys;
    this.#people = people;
  }

  #statement(shape: string, sql: () => string): Statement {
    let statement = this.#statements.get(shape);
    if (!statement) this.#statements.set(shape, (statement = this.#db.prepare(sql())));
    return statement;
  }

  #text(row: Row, column: 'email' | 'name'): string {
    const sealed = column === 'email' ? row.email_sealed : row.name_sealed;
    return sealed ? openText(this.#keys, { table: 'people', column, row: row.id }, sealed).normalize('NFKC').toLowerCase() : '';
  }

  #matches(row: Row, search: string | undefined): boolean {
    return search === undefined || this.#text(row, 'name').includes(search) || this.#text(row, 'email').includes(search);
  }

  /** A page of `limit` people and whether more follow. */
  page(q: PeopleListQuery): { people: Person[]; more: boolean } {
    const exact = q.search !== undefined && q.search.includes('@') && !/\s/.test(q.search);
    const filters = [
      'erased_at IS NULL',
      q.serverAdmin === undefined ? '1' : q.serverAdmin ? 'server_admin = 1' : 'server_admin = 0',
      q.blocked === undefined ? '1' : q.blocked ? 'blocked_at IS NOT NULL' : 'blocked_at IS NULL',
      exact ? 'email_index = @email' : '1',
    ].join(' AND ');
    const params: Record<string, unknown> = exact ? { email: emailIndex(this.#keys, q.search!) } : {};
    const search = exact ? undefined : q.search;
    const select = `SELECT id, email_sealed, name_sealed, created_at, coalesce(last_sign_in_at, '') AS last_sign_in FROM people WHERE ${filters}`;
    const wanted = q.limit + 1;
    const ids: string[] = [];
    if (q.sort === 'name') {
      const sign = q.order === 'asc' ? 1 : -1;
      const compare = (a: { key: string; id: string }, b: { key: string; id: string }) => sign * (a.key < b.key ? -1 : a.key > b.key ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
      const after = q.after ? { key: String(q.after.key), id: q.after.id } : undefined;
      const keyed = (this.#statement(`${filters}|all`, () => select).all(params) as Row[])
        .filter((row) => this.#matches(row, search))
        .map((row) => ({ key: this.#text(row, 'name') || this.#text(row, 'email'), id: row.id }))
        .filter((k) => !after || compare(k, after) > 0)
        .sort(compare);
      ids.push(...keyed.slice(0, wanted).map((k) => k.id));
    } else {
      const column = sortColumn[q.sort];
      const direction = q.order === 'asc' ? 'ASC' : 'DESC';
      const first = this.#statement(`${filters}|${q.sort}|${direction}|first`, () => `${select} ORDER BY ${column} ${direction}, id ${direction} LIMIT @limit`);
      const next = this.#statement(`${filters}|${q.sort}|${direction}|after`, () => `${select} AND (${column}, id) ${q.order === 'asc' ? '>' : '<'} (@key, @id) ORDER BY ${column} ${direction}, id ${direction} LIMIT @limit`);
      let after = q.after;
      for (;;) {
        const take = search === undefined ? wanted - ids.length : batchSize;
        const rows = (after ? next.all({ ...params, key: after.key, id: after.id, limit: take }) : first.all({ ...params, limit: take })) as Row[];
        for (const row of rows) if (this.#matches(row, search) && ids.length < wanted) ids.push(row.id);
        if (ids.length === wanted || rows.length < take) break;
        const last = rows.at(-1)!;
        after = { key: q.sort === 'created' ? last.created_at : last.last_sign_in, id: last.id };
      }
    }
    const people = ids.flatMap((id) => this.#people.get(id) ?? []);
    return { people: people.slice(0, q.limit), more: people.length > q.limit };
  }
}
