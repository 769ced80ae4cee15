/**
 * Moves every blob from the backend they are on to another (`modelshare blobs migrate --to s3|fs`)
 * while the server keeps serving. The order that makes it safe:
 *
 *  1. `blob_storage.target` is set: from then on servers write new blobs to the target and read
 *     from it first, falling back to the old backend (blob-router.ts).
 *  2. Each catalogued blob is copied as sealed bytes (never decrypted, never in memory whole) and
 *     verified: its size on the target, and the SHA-256 of the bytes read back from the target equal
 *     to that of the bytes read from the source. Verified blobs are recorded (`blob_migration_done`),
 *     so a migration cut short resumes where it stopped. Blobs written to the target meanwhile are
 *     recorded by the transaction that commits them (BlobRouter.acceptsCommit).
 *  3. Passes repeat until the switch transaction finds every catalogued blob recorded; it then makes
 *     the target current in the same transaction. A blob written to the old backend that tries to
 *     commit after that is refused (BlobService.commit), so nothing acknowledged is left behind.
 *  4. The old backend's copies are removed (unless kept).
 */
import crypto from 'node:crypto';
import type { Db } from '../db/open.ts';
import { sealedSize } from '../crypto/stream-aead.ts';
import type { Log } from '../log.ts';
import type { BlobBackend } from './backend.ts';
import type { BackendKind, BlobRouter } from './blob-router.ts';

export class BlobMigrationError extends Error {
  override name = 'BlobMigrationError';
}

export interface MigrationOptions {
  to: BackendKind;
  /** Leave the old backend's copies in place after the switch. */
  keepSource?: boolean;
  log?: Log | undefined;
  /** Told after each blob is verified on the target (progress output; tests stop a migration here). */
  onVerified?: (id: string, done: number) => void;
  now?: () => Date;
}

export interface MigrationReport {
  from: BackendKind;
  to: BackendKind;
  /** Blobs copied and verified by this run. */
  copied: number;
  /** Blobs found on the target already (written there during the migration, or by an earlier run). */
  alreadyThere: number;
  /** Blobs recorded on the target before this run began (by an interrupted run, or written there meanwhile). */
  resumed: number;
  removedFromSource: number;
}

const batch = 200;
const copyBatch = 1024 * 1024;

async function sha256Of(backend: BlobBackend, id: string, size: number): Promise<Buffer> {
  const hash = crypto.createHash('sha256');
  for await (const chunk of backend.read(id, 0, size)) hash.update(chunk as Buffer);
  return hash.digest();
}

/** Copies the sealed bytes of `id`, returning the SHA-256 of what was read from the source. */
async function copy(from: BlobBackend, to: BlobBackend, id: string, size: number): Promise<Buffer> {
  const hash = crypto.createHash('sha256');
  const writer = await to.create(id);
  try {
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    for await (const chunk of from.read(id, 0, size)) {
      hash.update(chunk as Buffer);
      pending.push(chunk as Buffer);
      pendingBytes += (chunk as Buffer).length;
      if (pendingBytes >= copyBatch) {
        await writer.write(pending);
        pending = [];
        pendingBytes = 0;
      }
    }
    await writer.write(pending);
    await writer.publish();
  } catch (error) {
    await writer.abort().catch(() => undefined);
    throw error;
  }
  return hash.digest();
}

export async function migrateBlobs(db: Db, router: BlobRouter, options: MigrationOptions): Promise<MigrationReport> {
  const now = options.now ?? (() => new Date());
  const placement = router.placement();
  if (placement.target !== undefined && placement.target !== options.to) {
    throw new BlobMigrationError(`a migration to ${placement.target} is under way: finish it first (\`modelshare blobs migrate --to ${placement.target}\`)`);
  }
  if (placement.target === undefined && placement.current === options.to) throw new BlobMigrationError(`the blobs are on ${options.to} already`);
  const from = router.backend(placement.current);
  const to = router.backend(options.to);
  // An unreachable or misconfigured target stops the migration before anything changes.
  await to.check();
  if (placement.target === undefined) {
    db.transaction(() => {
      db.prepare('DELETE FROM blob_migration_done').run();
      db.prepare('UPDATE blob_storage SET target = ?, started_at = ? WHERE id = 1 AND target IS NULL').run(options.to, now().toISOString());
    }).immediate();
    options.log?.info({ from: placement.current, to: options.to }, 'blob migration started: new blobs go to the target from now on');
  }
  const report: MigrationReport = { from: placement.current, to: options.to, copied: 0, alreadyThere: 0, resumed: 0, removedFromSource: 0 };
  report.resumed = (db.prepare('SELECT count(*) AS n FROM blob_migration_done').get() as { n: number }).n;

  const pending = db.prepare<[number], { id: string; size: number }>(
    'SELECT id, size FROM blobs WHERE id NOT IN (SELECT blob_id FROM blob_migration_done) AND id NOT IN (SELECT blob_id FROM blob_inline) ORDER BY created_at, id LIMIT ?',
  );
  const stillCatalogued = db.prepare<[string], { one: number }>('SELECT 1 AS one FROM blobs WHERE id = ?');
  const markDone = db.prepare('INSERT OR IGNORE INTO blob_migration_done (blob_id, verified_at) VALUES (?, ?)');
  let done = report.resumed;
  const skipped = new Set<string>();

  for (;;) {
    const rows = pending.all(batch + skipped.size).filter((r) => !skipped.has(r.id));
    if (rows.length === 0) {
      // The switch: only when every catalogued blob is verified on the target, in the same transaction.
      const switched = db.transaction(() => {
        const left = (db.prepare('SELECT count(*) AS n FROM blobs WHERE id NOT IN (SELECT blob_id FROM blob_migration_done) AND id NOT IN (SELECT blob_id FROM blob_inline)').get() as { n: number }).n;
        if (left > 0) return false;
        db.prepare('UPDATE blob_storage SET current = ?, target = NULL, switched_at = ? WHERE id = 1').run(options.to, now().toISOString());
        db.prepare('DELETE FROM blob_migration_done').run();
        return true;
      }).immediate();
      if (switched) break;
      skipped.clear();
      continue;
    }
    for (const row of rows) {
      const sealed = sealedSize(row.size);
      const [onSource, onTarget] = [await from.size(row.id), await to.size(row.id)];
      if (onSource === undefined) {
        if (!stillCatalogued.get(row.id)) {
          skipped.add(row.id); // removed meanwhile; the next pass no longer sees it
          continue;
        }
        if (onTarget !== sealed) {
          throw new BlobMigrationError(`blob ${row.id} is on neither backend whole (run \`modelshare blobs verify\`, restore it from a backup, then run the migration again)`);
        }
        report.alreadyThere++; // written to the target during the migration, published whole
      } else {
        if (onSource !== sealed) {
          // Moved as it is, so the damage stays where `blobs verify` and downloads find it.
          options.log?.warn({ blob_id: row.id, stored: onSource, expected: sealed }, 'a blob is damaged (wrong size) on the source: moved as it is; restore it from a backup');
        }
        const digest = onTarget === onSource ? await sha256Of(from, row.id, onSource) : await copy(from, to, row.id, onSource);
        const [copiedSize, readBack] = [await to.size(row.id), await sha256Of(to, row.id, onSource)];
        if (copiedSize !== onSource || !readBack.equals(digest)) {
          throw new BlobMigrationError(`blob ${row.id} did not read back the same from ${options.to}: nothing was switched; run the migration again`);
        }
        if (onTarget === onSource) report.alreadyThere++;
        else report.copied++;
      }
      markDone.run(row.id, now().toISOString());
      options.onVerified?.(row.id, ++done);
    }
  }
  options.log?.info({ ...report }, 'blob migration switched: every blob is read from the target now');

  if (!options.keepSource) {
    for await (const { id } of from.list()) {
      await from.remove(id);
      report.removedFromSource++;
    }
  }
  return report;
}
