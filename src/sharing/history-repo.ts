/** The `baselines` and `packets` tables: a model's snapshots and its append-only log of change packets. */
import type { Keyring } from '../crypto/keyring.ts';
import { openText, seal } from '../crypto/sealed.ts';
import type { Db } from '../db/open.ts';

export interface Baseline {
  modelId: string;
  seq: number;
  blobId: string;
  authorId: string;
  createdAt: string;
}

export interface Packet {
  modelId: string;
  seq: number;
  blobId: string | null;
  authorId: string;
  comment: string | null;
  createdAt: string;
  prunedAt: string | null;
  /** Set when a rollback took the packet off the model's line: the closed branch it belongs to. */
  branchId: string | null;
  /** Set on a rollback's marker packet (no bytes): the point the model was returned to. */
  rolledBackTo: number | null;
}

interface PacketRow {
  model_id: string;
  seq: number;
  blob_id: string | null;
  author_id: string;
  comment_sealed: Buffer | null;
  created_at: string;
  pruned_at: string | null;
  branch_id: string | null;
  rolled_back_to: number | null;
}

interface BaselineRow {
  model_id: string;
  seq: number;
  blob_id: string;
  author_id: string;
  created_at: string;
}

const toBaseline = (r: BaselineRow): Baseline => ({ modelId: r.model_id, seq: r.seq, blobId: r.blob_id, authorId: r.author_id, createdAt: r.created_at });

const packetColumns = 'model_id, seq, blob_id, author_id, comment_sealed, created_at, pruned_at, branch_id, rolled_back_to';

/** Read in: a page of a model's packets after a seq, by a range of the primary key (keyset paging, never OFFSET). */
export const packetsAfterSql = `SELECT ${packetColumns} FROM packets WHERE model_id = ? AND seq > ? ORDER BY seq LIMIT ?`;

export class HistoryRepo {
  readonly #keys: Keyring;
  readonly #sql;

  constructor(db: Db, keys: Keyring) {
    this.#keys = keys;
    this.#sql = {
      insertPacket: db.prepare('INSERT INTO packets (model_id, seq, blob_id, author_id, comment_sealed, idempotency_key, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      packet: db.prepare<[string, number], PacketRow>(`SELECT ${packetColumns} FROM packets WHERE model_id = ? AND seq = ?`),
      byIdempotencyKey: db.prepare<[string, string, string], PacketRow>(`SELECT ${packetColumns} FROM packets WHERE model_id = ? AND author_id = ? AND idempotency_key = ?`),
      packetsAfter: db.prepare<[string, number, number], PacketRow>(packetsAfterSql),
      // Never a closed branch's packets, nor those a branch's state is rebuilt from (see 0011): rollbacks destroy nothing.
      prunable: db.prepare<[string, number], { seq: number; blob_id: string }>(
        `SELECT seq, blob_id FROM packets WHERE model_id = ? AND seq <= ? AND pruned_at IS NULL AND blob_id IS NOT NULL AND branch_id IS NULL
           AND NOT EXISTS (SELECT 1 FROM model_branches b WHERE b.model_id = packets.model_id AND packets.seq > b.base_seq)`,
      ),
      markPruned: db.prepare('UPDATE packets SET pruned_at = ?, blob_id = NULL WHERE model_id = ? AND seq = ?'),
      insertBaseline: db.prepare('INSERT INTO baselines (model_id, seq, blob_id, author_id, created_at) VALUES (?, ?, ?, ?, ?)'),
      baseline: db.prepare<[string, number], BaselineRow>('SELECT model_id, seq, blob_id, author_id, created_at FROM baselines WHERE model_id = ? AND seq = ?'),
      latestBaseline: db.prepare<[string], BaselineRow>('SELECT model_id, seq, blob_id, author_id, created_at FROM baselines WHERE model_id = ? ORDER BY seq DESC LIMIT 1'),
      baselinesBefore: db.prepare<[string, number, number], BaselineRow>(
        'SELECT model_id, seq, blob_id, author_id, created_at FROM baselines WHERE model_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?',
      ),
    };
  }

  #open(row: PacketRow): Packet {
    return {
      modelId: row.model_id,
      seq: row.seq,
      blobId: row.blob_id,
      authorId: row.author_id,
      comment: row.comment_sealed ? openText(this.#keys, { table: 'packets', column: 'comment', row: `${row.model_id}/${row.seq}` }, row.comment_sealed) : null,
      createdAt: row.created_at,
      prunedAt: row.pruned_at,
      branchId: row.branch_id,
      rolledBackTo: row.rolled_back_to,
    };
  }

  insertPacket(p: Omit<Packet, 'prunedAt' | 'branchId' | 'rolledBackTo'> & { dataKeyId: string; idempotencyKey: string | null }): void {
    const comment = p.comment === null ? null : seal(this.#keys, p.dataKeyId, { table: 'packets', column: 'comment', row: `${p.modelId}/${p.seq}` }, p.comment);
    this.#sql.insertPacket.run(p.modelId, p.seq, p.blobId, p.authorId, comment, p.idempotencyKey, p.createdAt);
  }

  packet(modelId: string, seq: number): Packet | undefined {
    const row = this.#sql.packet.get(modelId, seq);
    return row ? this.#open(row) : undefined;
  }

  byIdempotencyKey(modelId: string, authorId: string, key: string): Packet | undefined {
    const row = this.#sql.byIdempotencyKey.get(modelId, authorId, key);
    return row ? this.#open(row) : undefined;
  }

  packetsAfter(modelId: string, after: number, limit: number): Packet[] {
    return this.#sql.packetsAfter.all(modelId, after, limit).map((r) => this.#open(r));
  }

  /** Marks packets up to `seq` pruned; returns the blob ids to remove after the commit. */
  prune(modelId: string, seq: number, now: string): string[] {
    const rows = this.#sql.prunable.all(modelId, seq);
    for (const row of rows) this.#sql.markPruned.run(now, modelId, row.seq);
    return rows.map((r) => r.blob_id);
  }

  insertBaseline(b: Baseline): void {
    this.#sql.insertBaseline.run(b.modelId, b.seq, b.blobId, b.authorId, b.createdAt);
  }

  baseline(modelId: string, seq: number): Baseline | undefined {
    const row = this.#sql.baseline.get(modelId, seq);
    return row ? toBaseline(row) : undefined;
  }

  latestBaseline(modelId: string): Baseline | undefined {
    const row = this.#sql.latestBaseline.get(modelId);
    return row ? toBaseline(row) : undefined;
  }

  /** Baselines newest first, with seq below `before`. */
  baselines(modelId: string, before: number, limit: number): Baseline[] {
    return this.#sql.baselinesBefore.all(modelId, before, limit).map(toBaseline);
  }
}
