/**
 * Baselines and change packets: write out, read in, join. The rule of the log: a packet is written
 * against `base`, and becomes `head + 1` only if `base` is still the head when its row is committed;
 * of racing writers exactly one wins, the others get 409 and their bytes are thrown away.
 *
 * Durability order of a write-out: body → sealed blob file fsynced and renamed (BlobService.put) →
 * blob row (and the sealed bytes of a small blob), packet row, head, event and audit entry in a short
 * transaction, committed with the others that are ready (GroupCommit) → 201. A crash before the commit leaves a
 * file the start-up sweep removes; after it, everything the 201 promised is on disk.
 */
import type { Readable } from 'node:stream';
import type { BlobInfo, BlobService, StagedBlob } from '../blobs/blob-service.ts';
import { isNoSpace } from '../blobs/storage-monitor.ts';
import type { Digests } from '../crypto/digest.ts';
import { GroupCommit } from '../db/group-commit.ts';
import { AppError } from '../errors.ts';
import type { Actor } from '../http/authenticate.ts';
import type { Baseline, Packet } from './history-repo.ts';
import type { SharingDeps, ModelsService } from './models-service.ts';
import { keepingPace, type UploadPace } from '../http/upload-pace.ts';
import { policy } from './policy.ts';
import { rolledBackError, type BranchRepo } from './rollback.ts';

export interface Limits {
  packetBytes: number;
  baselineBytes: number;
  /** The slowest upload accepted (server.upload_min_rate over server.upload_rate_window). */
  uploadPace?: UploadPace | undefined;
}

/** Who may write to a locked model (see locks.ts); throws 423 for anyone else. */
export interface WriteLock {
  assertMayWrite(modelId: string, personId: string): void;
}

export interface Upload {
  body: Readable;
  expected: Digests;
}

type Outcome<T> = { ok: T } | { conflict: number } | { gone: true } | { replay: Packet };

export class HistoryService {
  readonly #d: SharingDeps;
  readonly #blobs: BlobService;
  readonly #models: ModelsService;
  readonly #limits: Limits;
  readonly #groups: GroupCommit;
  readonly #lock: WriteLock;
  readonly #branches: BranchRepo;

  constructor(deps: SharingDeps, blobs: BlobService, models: ModelsService, limits: Limits, lock: WriteLock, branches: BranchRepo) {
    this.#d = deps;
    this.#lock = lock;
    this.#branches = branches;
    this.#groups = new GroupCommit(deps.db);
    this.#blobs = blobs;
    this.#models = models;
    this.#limits = limits;
  }

  /** Behind the head: 409 `rolled_back` when a rollback happened since `seq` (join again), else `not_up_to_date` (read in). */
  #notUpToDate(head: number, seq?: number, modelId?: string): AppError {
    const since = modelId !== undefined && seq !== undefined ? this.#branches.rollbackSince(modelId, seq) : undefined;
    if (since) return rolledBackError(since, head, this.#d.history.latestBaseline(modelId!)?.seq ?? null);
    return new AppError('not_up_to_date', `The model is at packet ${head}; read in first`, { extra: { head } });
  }

  #audit(actor: Actor, action: string, modelId: string, source: string, outcome: 'allowed' | 'denied', details: Record<string, unknown>, reason?: string) {
    this.#d.audit.record({ action, outcome, reason, actor: { id: actor.person.id, email: actor.person.email ?? undefined }, target: { type: 'model', id: modelId }, source, details });
  }

  /** Write out: appends a packet written against `base`. Returns the packet and whether it is a retry's. */
  async writeOut(actor: Actor, modelId: string, input: Upload & { base: number; comment: string | null; idempotencyKey: string | null }, source: string): Promise<{ packet: Packet; replayed: boolean }> {
    const { model } = this.#models.locate(actor, modelId, 'model.write_out', policy.write, source);
    if (input.idempotencyKey) {
      const earlier = this.#d.history.byIdempotencyKey(modelId, actor.person.id, input.idempotencyKey);
      if (earlier) return { packet: earlier, replayed: true };
    }
    // Refused before a byte is read: a model locked for this writer, or a writer behind the head.
    this.#assertUnlocked(actor, modelId, 'model.write_out', source);
    if (input.base !== model.head) {
      this.#audit(actor, 'model.write_out', modelId, source, 'denied', { base: input.base, head: model.head }, 'not_up_to_date');
      throw this.#notUpToDate(model.head, input.base, modelId);
    }
    const staged = await this.#blobs.put(this.#paced(input.body), { dataKeyId: model.dataKeyId, maxBytes: this.#limits.packetBytes, expected: input.expected });
    const outcome = await this.#commit((): Outcome<Packet> => {
      const current = this.#d.models.get(modelId);
      if (!current || current.deletedAt) return { gone: true };
      // A lock taken while the body streamed wins: the savepoint rolls back and the bytes are discarded.
      this.#lock.assertMayWrite(modelId, actor.person.id);
      if (input.idempotencyKey) {
        const earlier = this.#d.history.byIdempotencyKey(modelId, actor.person.id, input.idempotencyKey);
        if (earlier) return { replay: earlier };
      }
      if (current.head !== input.base) return { conflict: current.head };
      const now = this.#d.clock.now().toISOString();
      const seq = current.head + 1;
      this.#blobs.commit(staged, this.#d.clock.now());
      this.#d.history.insertPacket({ modelId, seq, blobId: staged.id, authorId: actor.person.id, comment: input.comment, createdAt: now, dataKeyId: model.dataKeyId, idempotencyKey: input.idempotencyKey });
      this.#d.models.advanceHead(modelId, current.head, seq, now);
      this.#d.events.append(modelId, 'packet', { seq, author: actor.person.id });
      // In the same transaction as the packet: one fsync for both, and never one without the other.
      this.#audit(actor, 'model.write_out', modelId, source, 'allowed', { seq, size: staged.size });
      return { ok: this.#d.history.packet(modelId, seq)! };
    });
    const result = await this.#settle(staged, outcome);
    if ('replay' in result) return { packet: result.replay, replayed: true };
    if ('conflict' in result) {
      this.#audit(actor, 'model.write_out', modelId, source, 'denied', { base: input.base, head: result.conflict }, 'not_up_to_date');
      throw this.#notUpToDate(result.conflict, input.base, modelId);
    }
    return { packet: result.ok, replayed: false };
  }

  /** A baseline: a full snapshot as of packet `seq`, which must be the head. */
  async createBaseline(actor: Actor, modelId: string, input: Upload & { seq: number }, source: string): Promise<Baseline> {
    const { model } = this.#models.locate(actor, modelId, 'model.baseline', policy.write, source);
    this.#assertUnlocked(actor, modelId, 'model.baseline', source);
    if (input.seq !== model.head) {
      this.#audit(actor, 'model.baseline', modelId, source, 'denied', { seq: input.seq, head: model.head }, 'not_up_to_date');
      throw this.#notUpToDate(model.head);
    }
    if (this.#d.history.baseline(modelId, input.seq)) throw new AppError('conflict', `There is already a baseline as of packet ${input.seq}`);
    const staged = await this.#blobs.put(this.#paced(input.body), { dataKeyId: model.dataKeyId, maxBytes: this.#limits.baselineBytes, expected: input.expected });
    const outcome = await this.#commit((): Outcome<Baseline> => {
      const current = this.#d.models.get(modelId);
      if (!current || current.deletedAt) return { gone: true };
      this.#lock.assertMayWrite(modelId, actor.person.id);
      if (current.head !== input.seq || this.#d.history.baseline(modelId, input.seq)) return { conflict: current.head };
      const baseline = { modelId, seq: input.seq, blobId: staged.id, authorId: actor.person.id, createdAt: this.#d.clock.now().toISOString() };
      this.#blobs.commit(staged, this.#d.clock.now());
      this.#d.history.insertBaseline(baseline);
      this.#d.events.append(modelId, 'baseline', { seq: input.seq, author: actor.person.id });
      this.#audit(actor, 'model.baseline', modelId, source, 'allowed', { seq: input.seq, size: staged.size });
      return { ok: baseline };
    });
    const result = await this.#settle(staged, outcome);
    if ('replay' in result) throw new Error('unreachable: baselines have no idempotency replay');
    if ('conflict' in result) throw this.#notUpToDate(result.conflict);
    return result.ok;
  }

  #paced(body: Readable): Readable {
    return this.#limits.uploadPace ? keepingPace(body, this.#limits.uploadPace) : body;
  }

  #assertUnlocked(actor: Actor, modelId: string, action: string, source: string): void {
    try {
      this.#lock.assertMayWrite(modelId, actor.person.id);
    } catch (error) {
      if (error instanceof AppError) this.#audit(actor, action, modelId, source, 'denied', {}, error.code);
      throw error;
    }
  }

  /** Commits the rows of a staged blob in the next group commit; says how it went instead of throwing. */
  async #commit<T>(work: () => Outcome<T>): Promise<Outcome<T> | { error: unknown }> {
    try {
      return await this.#groups.run(work);
    } catch (error) {
      return { error };
    }
  }

  async #settle<T>(staged: StagedBlob, outcome: Outcome<T> | { error: unknown }): Promise<{ ok: T } | { conflict: number } | { replay: Packet }> {
    if ('ok' in outcome) {
      this.#d.events.notify();
      return outcome;
    }
    await this.#blobs.discard(staged);
    if ('error' in outcome) {
      // The database's disk filled up at the commit: the blob is gone again, and the answer says why.
      if (isNoSpace(outcome.error)) throw new AppError('insufficient_storage', 'The server ran out of storage space while saving this; nothing was kept', { cause: outcome.error });
      throw outcome.error;
    }
    if ('gone' in outcome) throw new AppError('not_found', 'There is no such model');
    return outcome;
  }

  /** Read in: the packets after `after`, at most `limit`; a pruned one in the way answers 410. */
  readIn(actor: Actor, modelId: string, after: number, limit: number, source: string): { packets: Packet[]; head: number; more: boolean } {
    const { model } = this.#models.locate(actor, modelId, 'model.read_in', policy.read, source);
    const packets = this.#d.history.packetsAfter(modelId, after, limit + 1);
    // A reader whose page crosses a rollback (its marker, or packets left on a closed branch) joins again.
    const since = packets.some((p) => p.branchId !== null || p.rolledBackTo !== null) ? this.#branches.rollbackSince(modelId, after) : undefined;
    if (since) throw rolledBackError(since, model.head, this.#d.history.latestBaseline(modelId)?.seq ?? null);
    if (packets.some((p) => p.prunedAt !== null)) throw this.#pruned(modelId);
    return { packets: packets.slice(0, limit), head: model.head, more: packets.length > limit };
  }

  #pruned(modelId: string): AppError {
    const latest = this.#d.history.latestBaseline(modelId);
    return new AppError('history_pruned', 'That part of the history was removed by the retention policy; join from the newest baseline', {
      extra: { baseline: latest ? { seq: latest.seq } : null },
    });
  }

  packetContent(actor: Actor, modelId: string, seq: number, source: string): { packet: Packet; blob: BlobInfo } {
    this.#models.locate(actor, modelId, 'model.download', policy.read, source);
    const packet = this.#d.history.packet(modelId, seq);
    if (!packet) throw new AppError('not_found', `There is no packet ${seq}`);
    if (packet.rolledBackTo !== null) throw rolledBackError(this.#branches.rollbackSince(modelId, seq - 1)!, this.#d.models.get(modelId)!.head, this.#d.history.latestBaseline(modelId)?.seq ?? null);
    if (!packet.blobId) throw this.#pruned(modelId);
    return { packet, blob: this.#blobs.info(packet.blobId)! };
  }

  baselineContent(actor: Actor, modelId: string, seq: number | 'latest', source: string): { baseline: Baseline; blob: BlobInfo } {
    this.#models.locate(actor, modelId, 'model.download', policy.read, source);
    const baseline = seq === 'latest' ? this.#d.history.latestBaseline(modelId) : this.#d.history.baseline(modelId, seq);
    if (!baseline) throw new AppError('not_found', seq === 'latest' ? 'This model has no baseline yet' : `There is no baseline as of packet ${seq}`);
    return { baseline, blob: this.#blobs.info(baseline.blobId)! };
  }

  baselines(actor: Actor, modelId: string, before: number, limit: number, source: string): { baselines: Baseline[]; more: boolean } {
    this.#models.locate(actor, modelId, 'model.baselines', policy.read, source);
    const list = this.#d.history.baselines(modelId, before, limit + 1);
    return { baselines: list.slice(0, limit), more: list.length > limit };
  }

  /**
   * Removes the bytes of packets up to `seq` (the history retention policy); they then answer 410.
   * Only packets older than the newest baseline may go, so a model can always be joined.
   */
  async prune(modelId: string, seq: number): Promise<number> {
    const latest = this.#d.history.latestBaseline(modelId);
    const upTo = Math.min(seq, latest?.seq ?? 0);
    const blobIds = this.#d.db.transaction(() => this.#d.history.prune(modelId, upTo, this.#d.clock.now().toISOString())).immediate();
    for (const id of blobIds) await this.#blobs.remove(id);
    return blobIds.length;
  }
}
