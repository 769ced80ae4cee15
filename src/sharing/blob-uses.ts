/**
 * What a blob is to the sharing domain: which model's packet or baseline it holds. Used to name the
 * model in reports about a blob (`modelshare blobs verify`), since blobs themselves know no model.
 */
import type { Db } from '../db/open.ts';

export interface BlobUse {
  model_id: string;
  kind: 'packet' | 'baseline';
  seq: number;
}

/** Found through the `packets_by_blob` and `baselines_by_blob` indexes (0016), not by scanning every packet. */
export const blobUsesSql =
  "SELECT model_id, 'packet' AS kind, seq FROM packets WHERE blob_id = ? UNION ALL SELECT model_id, 'baseline' AS kind, seq FROM baselines WHERE blob_id = ? LIMIT 1";

/** A lookup from blob id to its use (undefined for a blob nothing refers to any more). */
export function blobUses(db: Db): (blobId: string) => BlobUse | undefined {
  const query = db.prepare<[string, string], BlobUse>(blobUsesSql);
  return (blobId) => query.get(blobId, blobId);
}
