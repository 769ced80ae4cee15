/**
 * The manifest of one backup: every file with its size and SHA-256, what wrote it, and what is
 * needed to read it (the master key ids). Written last, atomically; a backup exists once it does.
 */
import { z } from 'zod';

const hex64 = z.string().regex(/^[0-9a-f]{64}$/);

const manifestSchema = z.object({
  format: z.literal('modelshare-backup/1'),
  id: z.string(),
  created_at: z.string(),
  completed_at: z.string(),
  server_version: z.string(),
  schema_version: z.number().int(),
  /** The master keys that wrap the data keys in the copy: the backup cannot be read without them. */
  master_key_ids: z.array(z.string()),
  /** The newest audit entry when the copy began: every entry up to it is in the copy. */
  audit_head: z.unknown(),
  database: z.object({ file: z.string(), size: z.number().int().nonnegative(), sha256: hex64 }),
  /**
   * Where the blob copies are: `fs` (the store's blobs/, the default) or `s3` (server-side copies in
   * the bucket, see object-store.ts).
   */
  blob_store: z.enum(['fs', 's3']).optional(),
  /**
   * Sealed blobs as stored: size and SHA-256 of those bytes. Server-side copies in S3 have no SHA-256
   * (the bytes never passed through the server); verify checks their size, and with the master key
   * every segment and the catalog digest.
   */
  blobs: z.array(z.object({ id: z.string().regex(/^[0-9a-f]{32}$/), size: z.number().int().nonnegative(), sha256: hex64.optional() })),
  stats: z.object({ blob_bytes: z.number(), copied_blobs: z.number(), copied_bytes: z.number() }),
});

export type Manifest = z.infer<typeof manifestSchema>;

export function parseManifest(text: string, id: string): Manifest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error(`backup ${id}: manifest.json is not valid JSON (damaged)`);
  }
  const parsed = manifestSchema.safeParse(value);
  if (!parsed.success) throw new Error(`backup ${id}: manifest.json is not a Modelshare backup manifest (${parsed.error.issues[0]?.path.join('.') ?? ''}: ${parsed.error.issues[0]?.message ?? ''})`);
  if (parsed.data.id !== id) throw new Error(`backup ${id}: manifest.json names another backup (${parsed.data.id})`);
  return parsed.data;
}
