/**
 * The blocked_addresses table: addresses and domains an organization refuses. Values are sealed and
 * found through a keyed blind index; a lifted block keeps its row (with lifted_at) because the people
 * it covered must sign in again before they share.
 */
import crypto from 'node:crypto';
import type { Clock } from '../clock.ts';
import type { Keyring } from '../crypto/keyring.ts';
import { blindIndex, openText, seal } from '../crypto/sealed.ts';
import type { Db } from '../db/open.ts';
import { domainsCovering } from './policy.ts';

export type BlockKind = 'address' | 'domain';

export interface Block {
  id: string;
  organizationId: string;
  kind: BlockKind;
  value: string;
  createdBy: string | null;
  createdAt: string;
}

interface BlockRow {
  id: string;
  organization_id: string;
  kind: BlockKind;
  value_sealed: Buffer;
  created_by: string | null;
  created_at: string;
  lifted_at: string | null;
}

export class BlockRepo {
  readonly #keys: Keyring;
  readonly #clock: Clock;
  readonly #keyId: string;
  readonly #sql;

  constructor(db: Db, keys: Keyring, clock: Clock) {
    this.#keys = keys;
    this.#clock = clock;
    this.#keyId = keys.singleton('personal');
    this.#sql = {
      active: db.prepare<[string], BlockRow>('SELECT * FROM blocked_addresses WHERE organization_id = ? AND lifted_at IS NULL ORDER BY created_at, id'),
      byIndex: db.prepare<[string, Buffer], BlockRow>('SELECT * FROM blocked_addresses WHERE organization_id = ? AND value_index = ?'),
      byId: db.prepare<[string, string], BlockRow>('SELECT * FROM blocked_addresses WHERE organization_id = ? AND id = ?'),
      // Blocking again what was lifted re-uses the row: one row per value and organization.
      upsert: db.prepare(
        `INSERT INTO blocked_addresses (id, organization_id, kind, value_index, value_sealed, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (organization_id, value_index) DO UPDATE SET lifted_at = NULL, created_by = excluded.created_by, created_at = excluded.created_at`,
      ),
      lift: db.prepare('UPDATE blocked_addresses SET lifted_at = ? WHERE organization_id = ? AND id = ? AND lifted_at IS NULL'),
    };
  }

  #index(kind: BlockKind, value: string): Buffer {
    return blindIndex(this.#keys, this.#keyId, 'orgs.blocked', `${kind}:${value}`);
  }

  #open(row: BlockRow): Block {
    return {
      id: row.id,
      organizationId: row.organization_id,
      kind: row.kind,
      value: openText(this.#keys, { table: 'blocked_addresses', column: 'value', row: row.id }, row.value_sealed),
      createdBy: row.created_by,
      createdAt: row.created_at,
    };
  }

  list(organizationId: string): Block[] {
    return this.#sql.active.all(organizationId).map((r) => this.#open(r));
  }

  /** Blocks `value` (already normalized); returns the block, and whether it was already in force. */
  add(organizationId: string, kind: BlockKind, value: string, createdBy: string): { block: Block; existed: boolean } {
    const index = this.#index(kind, value);
    const before = this.#sql.byIndex.get(organizationId, index);
    if (before && before.lifted_at === null) return { block: this.#open(before), existed: true };
    const id = before?.id ?? `blk_${crypto.randomBytes(12).toString('hex')}`;
    const sealed = before?.value_sealed ?? seal(this.#keys, this.#keyId, { table: 'blocked_addresses', column: 'value', row: id }, value);
    this.#sql.upsert.run(id, organizationId, kind, index, sealed, createdBy, this.#clock.now().toISOString());
    return { block: this.#open(this.#sql.byId.get(organizationId, id)!), existed: false };
  }

  /** Lifts a block; the block as it was, or undefined when there is no such block in force. */
  lift(organizationId: string, id: string): Block | undefined {
    const row = this.#sql.byId.get(organizationId, id);
    if (!row || row.lifted_at !== null) return undefined;
    this.#sql.lift.run(this.#clock.now().toISOString(), organizationId, id);
    return this.#open(row);
  }

  /**
   * Whether a block in force covers the address (itself, its domain or a parent domain), and the
   * latest time a block that covered it was lifted.
   */
  covering(organizationId: string, email: string): { active: boolean; liftedAt: string | null } {
    const rows = [this.#index('address', email), ...domainsCovering(email).map((d) => this.#index('domain', d))]
      .map((index) => this.#sql.byIndex.get(organizationId, index))
      .filter((r): r is BlockRow => r !== undefined);
    const lifted = rows.map((r) => r.lifted_at).filter((t): t is string => t !== null).sort();
    return { active: rows.some((r) => r.lifted_at === null), liftedAt: lifted.at(-1) ?? null };
  }
}
