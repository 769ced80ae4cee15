/** The `models` and `model_members` tables. Names and descriptions are sealed under the model's own key. */
import type { Keyring } from '../crypto/keyring.ts';
import { openText, seal } from '../crypto/sealed.ts';
import type { Db } from '../db/open.ts';
import type { ModelRole } from './policy.ts';

export interface Model {
  id: string;
  organizationId: string | null;
  dataKeyId: string;
  name: string;
  description: string | null;
  ownerId: string;
  head: number;
  createdAt: string;
  updatedAt: string;
  deletedAt: string | null;
}

interface ModelRow {
  id: string;
  organization_id: string | null;
  data_key_id: string;
  name_sealed: Buffer;
  description_sealed: Buffer | null;
  owner_id: string;
  head: number;
  created_at: string;
  updated_at: string;
  deleted_at: string | null;
}

export interface Member {
  personId: string;
  role: ModelRole;
  addedAt: string;
}

const columns = 'id, organization_id, data_key_id, name_sealed, description_sealed, owner_id, head, created_at, updated_at, deleted_at';

/**
 * A person's models after a cursor, in id order. The range and the order are on the membership's
 * model id, so the `model_members_by_person_model` index (0016) serves the page as one range scan
 * that stops at the LIMIT, with no sort (test/sharing/query-plans.test.ts holds it to that).
 */
export const listForPersonSql = `SELECT m.${columns.split(', ').join(', m.')}, mm.role FROM model_members mm JOIN models m ON m.id = mm.model_id
  WHERE mm.person_id = ? AND mm.model_id > ? AND m.deleted_at IS NULL
    AND (m.organization_id IN (SELECT value FROM json_each(?)) OR (m.organization_id IS NULL AND ?))
  ORDER BY mm.model_id LIMIT ?`;

export class ModelsRepo {
  readonly #keys: Keyring;
  readonly #sql;

  constructor(db: Db, keys: Keyring) {
    this.#keys = keys;
    this.#sql = {
      get: db.prepare<[string], ModelRow>(`SELECT ${columns} FROM models WHERE id = ?`),
      insert: db.prepare(
        'INSERT INTO models (id, organization_id, data_key_id, name_sealed, description_sealed, owner_id, head, created_at, updated_at, created_by, idempotency_key) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?)',
      ),
      byIdempotencyKey: db.prepare<[string, string], { id: string }>('SELECT id FROM models WHERE created_by = ? AND idempotency_key = ?'),
      update: db.prepare('UPDATE models SET name_sealed = ?, description_sealed = ?, updated_at = ? WHERE id = ?'),
      setHead: db.prepare('UPDATE models SET head = ?, updated_at = ? WHERE id = ? AND head = ?'),
      setOwner: db.prepare('UPDATE models SET owner_id = ?, updated_at = ? WHERE id = ?'),
      setDeleted: db.prepare('UPDATE models SET deleted_at = ?, deleted_by = ?, updated_at = ? WHERE id = ?'),
      // Filtered in SQL, before the LIMIT, so that every page is full and the walk reaches every model.
      listForPerson: db.prepare<[string, string, string, number, number], ModelRow & { role: ModelRole }>(listForPersonSql),
      organizationsOfMember: db.prepare<[string], { organization_id: string | null }>(
        'SELECT DISTINCT m.organization_id FROM models m JOIN model_members mm ON mm.model_id = m.id WHERE mm.person_id = ? AND m.deleted_at IS NULL',
      ),
      member: db.prepare<[string, string], { role: ModelRole }>('SELECT role FROM model_members WHERE model_id = ? AND person_id = ?'),
      members: db.prepare<[string], { person_id: string; role: ModelRole; added_at: string }>(
        'SELECT person_id, role, added_at FROM model_members WHERE model_id = ? ORDER BY added_at, person_id',
      ),
      upsertMember: db.prepare(
        'INSERT INTO model_members (model_id, person_id, role, added_at) VALUES (?, ?, ?, ?) ON CONFLICT (model_id, person_id) DO UPDATE SET role = excluded.role',
      ),
      removeMember: db.prepare('DELETE FROM model_members WHERE model_id = ? AND person_id = ?'),
      modelIdsOf: db.prepare<[string], { model_id: string }>('SELECT model_id FROM model_members WHERE person_id = ?'),
    };
  }

  #open(row: ModelRow): Model {
    const place = (column: string) => ({ table: 'models', column, row: row.id });
    return {
      id: row.id,
      organizationId: row.organization_id,
      dataKeyId: row.data_key_id,
      name: openText(this.#keys, place('name'), row.name_sealed),
      description: row.description_sealed ? openText(this.#keys, place('description'), row.description_sealed) : null,
      ownerId: row.owner_id,
      head: row.head,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
      deletedAt: row.deleted_at,
    };
  }

  #seal(model: { id: string; dataKeyId: string }, column: string, value: string | null): Buffer | null {
    return value === null ? null : seal(this.#keys, model.dataKeyId, { table: 'models', column, row: model.id }, value);
  }

  get(id: string): Model | undefined {
    const row = this.#sql.get.get(id);
    return row ? this.#open(row) : undefined;
  }

  /** Inserts a new model; `idempotencyKey` (the creator's Idempotency-Key) finds it again on a retry. */
  insert(model: Omit<Model, 'head' | 'updatedAt' | 'deletedAt'>, idempotencyKey: string | null = null): void {
    this.#sql.insert.run(
      model.id,
      model.organizationId,
      model.dataKeyId,
      this.#seal(model, 'name', model.name),
      this.#seal(model, 'description', model.description),
      model.ownerId,
      model.createdAt,
      model.createdAt,
      model.ownerId,
      idempotencyKey,
    );
  }

  /** The id of the model `personId` created with this Idempotency-Key, if any. */
  byIdempotencyKey(personId: string, key: string): string | undefined {
    return this.#sql.byIdempotencyKey.get(personId, key)?.id;
  }

  update(model: Model, now: string): void {
    this.#sql.update.run(this.#seal(model, 'name', model.name), this.#seal(model, 'description', model.description), now, model.id);
  }

  /** Moves head from `from` to `to`; false if another writer moved it first. */
  advanceHead(id: string, from: number, to: number, now: string): boolean {
    return this.#sql.setHead.run(to, now, id, from).changes === 1;
  }

  setOwner(id: string, ownerId: string, now: string): void {
    this.#sql.setOwner.run(ownerId, now, id);
  }

  setDeleted(id: string, deletedAt: string | null, by: string | null, now: string): void {
    this.#sql.setDeleted.run(deletedAt, by, now, id);
  }

  /**
   * The person's models (not deleted) by id after the cursor, only those in `organizations` (and,
   * when `outsideAny`, those of no organization).
   */
  listForPerson(personId: string, after: string, limit: number, organizations: { ids: readonly string[]; outsideAny: boolean }): (Model & { role: ModelRole })[] {
    return this.#sql.listForPerson
      .all(personId, after, JSON.stringify(organizations.ids), organizations.outsideAny ? 1 : 0, limit)
      .map((row) => ({ ...this.#open(row), role: row.role }));
  }

  /** The organizations (null: none) of the models the person is a member of. */
  organizationsOfMember(personId: string): (string | null)[] {
    return this.#sql.organizationsOfMember.all(personId).map((r) => r.organization_id);
  }

  role(modelId: string, personId: string): ModelRole | null {
    return this.#sql.member.get(modelId, personId)?.role ?? null;
  }

  members(modelId: string): Member[] {
    return this.#sql.members.all(modelId).map((r) => ({ personId: r.person_id, role: r.role, addedAt: r.added_at }));
  }

  setMember(modelId: string, personId: string, role: ModelRole, now: string): void {
    this.#sql.upsertMember.run(modelId, personId, role, now);
  }

  removeMember(modelId: string, personId: string): boolean {
    return this.#sql.removeMember.run(modelId, personId).changes === 1;
  }

  modelIdsOf(personId: string): string[] {
    return this.#sql.modelIdsOf.all(personId).map((r) => r.model_id);
  }
}
