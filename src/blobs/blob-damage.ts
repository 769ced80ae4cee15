/**
 * The register of damaged blobs (table `blob_damage`): what was found wrong with a blob's stored
 * bytes and when. Written when a read fails to authenticate or finds the file short, and by
 * `modelshare blobs verify`, which also clears the mark of a blob that checks out again.
 */
import type { Db } from '../db/open.ts';

export type DamageReason = 'unauthentic' | 'truncated' | 'missing' | 'digest_mismatch';

export interface DamagedBlob {
  blobId: string;
  reason: DamageReason;
  detectedAt: string;
}

export class BlobDamage {
  readonly #sql;

  constructor(db: Db) {
    this.#sql = {
      mark: db.prepare('INSERT INTO blob_damage (blob_id, reason, detected_at) VALUES (?, ?, ?) ON CONFLICT (blob_id) DO NOTHING'),
      get: db.prepare<[string], { reason: DamageReason }>('SELECT reason FROM blob_damage WHERE blob_id = ?'),
      clear: db.prepare('DELETE FROM blob_damage WHERE blob_id = ?'),
      count: db.prepare<[], { n: number }>('SELECT count(*) AS n FROM blob_damage'),
      list: db.prepare<[], { blob_id: string; reason: DamageReason; detected_at: string }>('SELECT blob_id, reason, detected_at FROM blob_damage ORDER BY detected_at, blob_id'),
    };
  }

  /** Marks a blob damaged; the first reason found is kept. Returns whether it was newly marked. */
  mark(blobId: string, reason: DamageReason, now: Date): boolean {
    return this.#sql.mark.run(blobId, reason, now.toISOString()).changes > 0;
  }

  reasonFor(blobId: string): DamageReason | undefined {
    return this.#sql.get.get(blobId)?.reason;
  }

  clear(blobId: string): void {
    this.#sql.clear.run(blobId);
  }

  count(): number {
    return this.#sql.count.get()!.n;
  }

  list(): DamagedBlob[] {
    return this.#sql.list.all().map((r) => ({ blobId: r.blob_id, reason: r.reason, detectedAt: r.detected_at }));
  }
}
