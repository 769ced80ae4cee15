/**
 * Roll back without losing history (issue 22). Sequence numbers are never reused, so what clients
 * hold stays true: a rollback of a model at head H to the point T adds
 *   - a marker packet H+1 without bytes (`rolled_back_to` = T), and a baseline as of H+1 whose bytes
 *     are those of the baseline the state at T is built on (a streamed, verified copy),
 *   - copies of the packets between that baseline and T, numbered H+2 …, so that the new head holds
 *     exactly the state at T: join = newest baseline + the packets after it, as always.
 * The packets and baselines the line leaves behind stay where they are, tagged with a closed branch:
 * they can be listed and downloaded, and restored (a rollback to the branch's tip). Every packet's
 * predecessor is seq − 1, except a marker's, which is `rolled_back_to`: that is how a state is found.
 * Clients past the point are told by an event and a 409 `rolled_back` on their next read-in or
 * write-out, and join again.
 */
import crypto from 'node:crypto';
import type { BlobService, StagedBlob } from '../blobs/blob-service.ts';
import type { Db } from '../db/open.ts';
import { AppError } from '../errors.ts';
import type { Actor } from '../http/authenticate.ts';
import { lockedError, type LocksService } from './locks.ts';
import type { Packet } from './history-repo.ts';
import type { ModelsService, SharingDeps } from './models-service.ts';
import { policy } from './policy.ts';

export interface Branch {
  id: string;
  modelId: string;
  rolledBackTo: number;
  tip: number;
  marker: number;
  baseSeq: number;
  createdBy: string;
  createdAt: string;
  restoredAt: string | null;
  restoredBy: string | null;
}

interface BranchRow {
  id: string;
  model_id: string;
  rolled_back_to: number;
  tip: number;
  marker: number;
  base_seq: number;
  created_by: string;
  created_at: string;
  restored_at: string | null;
  restored_by: string | null;
}

const toBranch = (r: BranchRow): Branch => ({
  id: r.id, modelId: r.model_id, rolledBackTo: r.rolled_back_to, tip: r.tip, marker: r.marker, baseSeq: r.base_seq,
  createdBy: r.created_by, createdAt: r.created_at, restoredAt: r.restored_at, restoredBy: r.restored_by,
});

const branchColumns = 'id, model_id, rolled_back_to, tip, marker, base_seq, created_by, created_at, restored_at, restored_by';

export class BranchRepo {
  readonly #sql;

  constructor(db: Db) {
    this.#sql = {
      insert: db.prepare(`INSERT INTO model_branches (${branchColumns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)`),
      get: db.prepare<[string, string], BranchRow>(`SELECT ${branchColumns} FROM model_branches WHERE model_id = ? AND id = ?`),
      list: db.prepare<[string], BranchRow>(`SELECT ${branchColumns} FROM model_branches WHERE model_id = ? ORDER BY created_at DESC, marker DESC`),
      restored: db.prepare('UPDATE model_branches SET restored_at = ?, restored_by = ? WHERE id = ?'),
      markers: db.prepare<[string], { seq: number; rolled_back_to: number }>('SELECT seq, rolled_back_to FROM packets WHERE model_id = ? AND rolled_back_to IS NOT NULL'),
      baselineSeqs: db.prepare<[string], { seq: number }>('SELECT seq FROM baselines WHERE model_id = ?'),
      insertMarker: db.prepare('INSERT INTO packets (model_id, seq, blob_id, author_id, comment_sealed, created_at, rolled_back_to) VALUES (?, ?, NULL, ?, NULL, ?, ?)'),
      branchPacket: db.prepare('UPDATE packets SET branch_id = ? WHERE model_id = ? AND seq = ?'),
      branchBaseline: db.prepare('UPDATE baselines SET branch_id = ? WHERE model_id = ? AND seq = ?'),
      latestMarkerAfter: db.prepare<[string, number], { seq: number; rolled_back_to: number }>(
        'SELECT seq, rolled_back_to FROM packets WHERE model_id = ? AND seq > ? AND rolled_back_to IS NOT NULL ORDER BY seq DESC LIMIT 1',
      ),
      branchOfMarker: db.prepare<[string, number], { id: string }>('SELECT id FROM model_branches WHERE model_id = ? AND marker = ?'),
      packetsOf: db.prepare<[string, string, number, number], { seq: number }>('SELECT seq FROM packets WHERE model_id = ? AND branch_id = ? AND seq > ? ORDER BY seq LIMIT ?'),
    };
  }

  insert(b: Branch): void {
    this.#sql.insert.run(b.id, b.modelId, b.rolledBackTo, b.tip, b.marker, b.baseSeq, b.createdBy, b.createdAt);
  }

  get(modelId: string, id: string): Branch | undefined {
    const row = this.#sql.get.get(modelId, id);
    return row ? toBranch(row) : undefined;
  }

  list(modelId: string): Branch[] {
    return this.#sql.list.all(modelId).map(toBranch);
  }

  setRestored(id: string, at: string, by: string): void {
    this.#sql.restored.run(at, by, id);
  }

  /** Marker seq → the point it returned to. */
  markers(modelId: string): Map<number, number> {
    return new Map(this.#sql.markers.all(modelId).map((r) => [r.seq, r.rolled_back_to]));
  }

  baselineSeqs(modelId: string): Set<number> {
    return new Set(this.#sql.baselineSeqs.all(modelId).map((r) => r.seq));
  }

  insertMarker(modelId: string, seq: number, authorId: string, at: string, rolledBackTo: number): void {
    this.#sql.insertMarker.run(modelId, seq, authorId, at, rolledBackTo);
  }

  tag(modelId: string, seq: number, branchId: string): void {
    this.#sql.branchPacket.run(branchId, modelId, seq);
    this.#sql.branchBaseline.run(branchId, modelId, seq);
  }

  /** The newest rollback after `seq`, if one happened since: a client at `seq` must join again. */
  rollbackSince(modelId: string, seq: number): { marker: number; rolledBackTo: number; branchId: string | null } | undefined {
    const row = this.#sql.latestMarkerAfter.get(modelId, seq);
    return row ? { marker: row.seq, rolledBackTo: row.rolled_back_to, branchId: this.#sql.branchOfMarker.get(modelId, row.seq)?.id ?? null } : undefined;
  }

  packetSeqs(modelId: string, branchId: string, after: number, limit: number): number[] {
    return this.#sql.packetsOf.all(modelId, branchId, after, limit).map((r) => r.seq);
  }
}

/** The 409 a client gets when the model was rolled back past the point it holds. */
export function rolledBackError(since: { marker: number; rolledBackTo: number; branchId: string | null }, head: number, latestBaseline: number | null): AppError {
  return new AppError('rolled_back', `The model was rolled back to ${since.rolledBackTo}; join again from the newest baseline`, {
    extra: { head, rolled_back_to: since.rolledBackTo, branch_id: since.branchId, baseline: latestBaseline === null ? null : { seq: latestBaseline } },
  });
}

/** Walks predecessors: seq − 1 for a packet, `rolled_back_to` for a marker. */
function predecessor(markers: Map<number, number>, seq: number): number {
  return markers.get(seq) ?? seq - 1;
}

/** The seqs on the line that ends at `seq` (the packets and markers before it, down to 1). */
function lineOf(markers: Map<number, number>, seq: number): Set<number> {
  const line = new Set<number>();
  for (let s = seq; s > 0; s = predecessor(markers, s)) line.add(s);
  return line;
}

export class RollbackService {
  readonly #d: SharingDeps;
  readonly #models: ModelsService;
  readonly #blobs: BlobService;
  readonly #locks: LocksService;
  readonly #branches: BranchRepo;

  constructor(deps: SharingDeps, models: ModelsService, blobs: BlobService, locks: LocksService, branches: BranchRepo) {
    this.#d = deps;
    this.#models = models;
    this.#blobs = blobs;
    this.#locks = locks;
    this.#branches = branches;
  }

  get branches(): BranchRepo {
    return this.#branches;
  }

  #audit(actor: Actor, action: string, modelId: string, source: string, details: Record<string, unknown>, outcome: 'allowed' | 'denied' = 'allowed', reason?: string) {
    this.#d.audit.record({ action, outcome, reason, actor: { id: actor.person.id, email: actor.person.email ?? undefined }, target: { type: 'model', id: modelId }, source, details });
  }

  /** The state at `seq`: the baseline it is built on and the packets after that baseline, oldest first. */
  #stateAt(modelId: string, seq: number): { baseSeq: number; packets: number[] } {
    const markers = this.#branches.markers(modelId);
    const baselines = this.#branches.baselineSeqs(modelId);
    const packets: number[] = [];
    for (let s = seq; ; s = predecessor(markers, s)) {
      if (baselines.has(s)) return { baseSeq: s, packets: packets.reverse() };
      if (s <= 0) throw new AppError('conflict', 'There is no baseline to rebuild that point from; upload a baseline first');
      if (!markers.has(s)) packets.push(s);
    }
  }

  /** Returns the model to the state at `to` (a baseline's or a packet's seq, on the line or on a closed branch). */
  async rollBack(actor: Actor, modelId: string, to: number, source: string, restoring: Branch | null = null): Promise<{ branch: Branch; head: number; baseline: number }> {
    const action = restoring ? 'model.branch_restore' : 'model.rollback';
    const { model } = this.#models.locate(actor, modelId, action, policy.own, source);
    const lock = this.#locks.get(modelId);
    if (lock && lock.lockOwnerId !== actor.person.id && lock.lockedBy !== actor.person.id) {
      this.#audit(actor, action, modelId, source, { to }, 'denied', 'model_locked');
      throw lockedError(lock);
    }
    const head = model.head;
    const target = this.#d.history.packet(modelId, to);
    if (to > head || (to > 0 && !target) || (to === 0 && !this.#d.history.baseline(modelId, 0))) {
      throw new AppError('validation_failed', `There is no point ${to} in this model's history`, { extra: { errors: [{ field: 'to', message: 'no such baseline or packet' }] } });
    }
    if (to === head) throw new AppError('conflict', `The model is already at ${to}`);
    const state = this.#stateAt(modelId, to);
    const chain = state.packets.map((seq) => this.#d.history.packet(modelId, seq)!);
    if (chain.some((p) => !p.blobId)) throw new AppError('history_pruned', 'Part of the history up to that point was removed by the retention policy', { extra: { baseline: null } });

    // Copy the bytes first (streamed, verified against their digests), then commit every row at once.
    const staged: StagedBlob[] = [];
    const copy = async (blobId: string) => {
      const info = this.#blobs.info(blobId)!;
      const blob = await this.#blobs.put(this.#blobs.read(info), { dataKeyId: model.dataKeyId, maxBytes: info.size, expected: { 'sha-256': info.digests['sha-256'] } });
      staged.push(blob);
      return blob;
    };
    let committed = false;
    try {
      const baseCopy = await copy(this.#d.history.baseline(modelId, state.baseSeq)!.blobId);
      const packetCopies: { packet: Packet; blob: StagedBlob }[] = [];
      for (const p of chain) packetCopies.push({ packet: p, blob: await copy(p.blobId!) });
      const marker = head + 1;
      const newHead = marker + packetCopies.length;
      const now = this.#d.clock.now();
      const at = now.toISOString();
      const branch: Branch = { id: `br_${crypto.randomBytes(9).toString('hex')}`, modelId, rolledBackTo: to, tip: head, marker, baseSeq: state.baseSeq, createdBy: actor.person.id, createdAt: at, restoredAt: null, restoredBy: null };
      this.#d.db
        .transaction(() => {
          const current = this.#d.models.get(modelId);
          if (!current || current.deletedAt) throw new AppError('not_found', 'There is no such model');
          if (current.head !== head) throw new AppError('not_up_to_date', `The model moved on to ${current.head} meanwhile; try again`, { extra: { head: current.head } });
          const markers = this.#branches.markers(modelId);
          const keep = lineOf(markers, to);
          this.#branches.insert(branch);
          for (const seq of lineOf(markers, head)) if (!keep.has(seq)) this.#branches.tag(modelId, seq, branch.id);
          this.#branches.insertMarker(modelId, marker, actor.person.id, at, to);
          this.#blobs.commit(baseCopy, now);
          this.#d.history.insertBaseline({ modelId, seq: marker, blobId: baseCopy.id, authorId: actor.person.id, createdAt: at });
          packetCopies.forEach(({ packet, blob }, i) => {
            this.#blobs.commit(blob, now);
            this.#d.history.insertPacket({ modelId, seq: marker + 1 + i, blobId: blob.id, authorId: packet.authorId, comment: packet.comment, createdAt: at, dataKeyId: model.dataKeyId, idempotencyKey: null });
          });
          if (!this.#d.models.advanceHead(modelId, head, newHead, at)) throw new AppError('not_up_to_date', 'The model moved on meanwhile; try again');
          if (restoring) this.#branches.setRestored(restoring.id, at, actor.person.id);
          this.#d.events.append(modelId, 'model', { change: restoring ? 'branch_restored' : 'rolled_back', rolled_back_to: to, branch_id: branch.id, head: newHead, baseline: marker });
        })
        .immediate();
      committed = true;
      this.#d.events.notify();
      this.#audit(actor, action, modelId, source, { to, from_head: head, head: newHead, branch_id: branch.id, ...(restoring ? { restored_branch_id: restoring.id } : {}) });
      return { branch, head: newHead, baseline: marker };
    } finally {
      if (!committed) for (const blob of staged) await this.#blobs.discard(blob);
    }
  }

  /** Returns the line to a closed branch's tip; the line it leaves becomes a closed branch in turn. */
  async restore(actor: Actor, modelId: string, branchId: string, source: string): Promise<{ branch: Branch; head: number; baseline: number }> {
    this.#models.locate(actor, modelId, 'model.branch_restore', policy.own, source);
    const branch = this.#branches.get(modelId, branchId);
    if (!branch) throw new AppError('not_found', 'There is no such branch');
    return this.rollBack(actor, modelId, branch.tip, source, branch);
  }

  list(actor: Actor, modelId: string, source: string): Branch[] {
    this.#models.locate(actor, modelId, 'model.branches', policy.read, source);
    return this.#branches.list(modelId);
  }

  packets(actor: Actor, modelId: string, branchId: string, after: number, limit: number, source: string) {
    this.#models.locate(actor, modelId, 'model.branches', policy.read, source);
    if (!this.#branches.get(modelId, branchId)) throw new AppError('not_found', 'There is no such branch');
    const seqs = this.#branches.packetSeqs(modelId, branchId, after, limit + 1);
    return { packets: seqs.slice(0, limit).map((seq) => this.#d.history.packet(modelId, seq)!), more: seqs.length > limit };
  }
}
