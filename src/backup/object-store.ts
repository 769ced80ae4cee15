/**
 * Backups of blobs that live in S3-compatible storage: the copies stay in the same bucket, under
 * `<storage.s3.prefix>backups/blobs/<id>`, made by server-side copies (CopyObject), so no byte of a
 * blob leaves the object store to be backed up or restored. The database copy and the manifest still
 * go to backup.dir. Blobs never change once written, so one copy serves every backup that lists it.
 */
import type { S3BlobBackend } from '../blobs/s3-backend.ts';

export interface BackupObjectStore {
  /** The live blobs. */
  live: S3BlobBackend;
  /** The backups' copies. */
  copies: S3BlobBackend;
}

/** The backup object store beside a live S3 backend, with the live storage.s3.prefix. */
export function backupObjectStore(live: S3BlobBackend, livePrefix: string): BackupObjectStore {
  return { live, copies: live.sibling(`${livePrefix}backups/`) };
}
