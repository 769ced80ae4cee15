/**
 * Retention of the sharing tables: deleted models purged for good once their restore window has
 * passed (rows, blobs, and the model's data key: crypto-erasure), packet history older than the
 * N-th newest baseline, and the event log behind the notification streams.
 */
import type { AuditService } from '../audit/audit-service.ts';
import type { BlobService } from '../blobs/blob-service.ts';
import type { Keyring } from '../crypto/keyring.ts';
import type { Db } from '../db/open.ts';
import type { HistoryService } from './history-service.ts';

export interface SharingRetentionDeps {
  db: Db;
  keys: Keyring;
  blobs: BlobService;
  history: HistoryService;
  audit: AuditService;
}

export class SharingRetention {
  readonly #d: SharingRetentionDeps;
  readonly #sql;

  constructor(deps: SharingRetentionDeps) {
    this.#d = deps;
    const db = deps.db;
    this.#sql = {
      deletedBefore: db.prepare<[string, number], { id: string; data_key_id: string }>(
        'SELECT id, data_key_id FROM models WHERE deleted_at IS NOT NULL AND deleted_at < ? ORDER BY deleted_at LIMIT ?',
      ),
      blobsOf: db.prepare<[string, string], { blob_id: string }>(
        'SELECT blob_id FROM packets WHERE model_id = ? AND blob_id IS NOT NULL UNION SELECT blob_id FROM baselines WHERE model_id = ?',
      ),
      deleteEventsOf: db.prepare('DELETE FROM model_events WHERE model_id = ?'),
      deleteModel: db.prepare('DELETE FROM models WHERE id = ?'),
      nthBaseline: db.prepare<[number], { model_id: string; seq: number }>(
        `SELECT b.model_id, b.seq FROM baselines b JOIN models m ON m.id = b.model_id
         WHERE m.deleted_at IS NULL AND (SELECT count(*) FROM baselines n WHERE n.model_id = b.model_id AND n.seq >= b.seq) = ?
           AND EXISTS (SELECT 1 FROM packets p WHERE p.model_id = b.model_id AND p.seq <= b.seq AND p.pruned_at IS NULL)`,
      ),
      deleteEvents: db.prepare('DELETE FROM model_events WHERE created_at < ?'),
    };
  }

  /**
   * Purges every model deleted before `before`: one transaction per model removes its rows (members,
   * baselines, packets, invitations and events go with it), its blob rows and its data key; then the
   * blob files are deleted. Stops between models when `signal` is aborted.
   */
  async purgeDeletedModels(before: Date, signal: AbortSignal): Promise<{ models: number; blobs: number }> {
    let models = 0;
    let blobs = 0;
    for (;;) {
      const batch = this.#sql.deletedBefore.all(before.toISOString(), 50);
      if (batch.length === 0) return { models, blobs };
      for (const model of batch) {
        signal.throwIfAborted();
        const blobIds = this.#sql.blobsOf.all(model.id, model.id).map((r) => r.blob_id);
        this.#d.db.transaction(() => {
          this.#sql.deleteEventsOf.run(model.id);
          this.#sql.deleteModel.run(model.id);
          for (const id of blobIds) this.#d.blobs.forget(id);
          this.#d.keys.destroy(model.data_key_id);
        }).immediate();
        for (const id of blobIds) await this.#d.blobs.remove(id);
        this.#d.audit.record({ action: 'model.purge', outcome: 'allowed', target: { type: 'model', id: model.id }, details: { blobs: blobIds.length, data_key_destroyed: true } });
        models++;
        blobs += blobIds.length;
      }
    }
  }

  /** Removes the packets older than the `keep`-th newest baseline of each model (their bytes; the rows answer 410). */
  async pruneHistory(keep: number, signal: AbortSignal): Promise<{ models: number; packets: number }> {
    if (keep <= 0) return { models: 0, packets: 0 };
    let models = 0;
    let packets = 0;
    for (const { model_id, seq } of this.#sql.nthBaseline.all(keep)) {
      signal.throwIfAborted();
      packets += await this.#d.history.prune(model_id, seq);
      models++;
    }
    return { models, packets };
  }

  /** Removes notification events older than `before` (the replay window of reconnecting streams). */
  purgeEvents(before: Date): number {
    return this.#sql.deleteEvents.run(before.toISOString()).changes;
  }
}
