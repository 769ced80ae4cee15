/**
 * The blob backend the blob service talks to: the backend that holds the blobs, and while
 * `modelshare blobs migrate` moves them, the one they move to. It reads the `blob_storage` row on
 * every call (a primary-key lookup in the local SQLite file), so a running server follows a migration
 * and its switch without a restart:
 *
 *   no migration:  everything on `current`
 *   migrating:     new blobs are written to `target`; reads and sizes look on `target` first and fall
 *                  back to `current`; removals, listing and staging cover both
 *   switch:        one transaction makes `target` current (only once every blob is verified there)
 *
 * A blob written to the old backend but committed after the switch would be lost to the new one:
 * `acceptsCommit` refuses it inside the committing transaction (the client retries and it is written
 * to the new backend).
 */
import type { Readable } from 'node:stream';
import { PassThrough } from 'node:stream';
import type { Db } from '../db/open.ts';
import type { BlobBackend, BlobReader, BlobWriter } from './backend.ts';

export type BackendKind = 'fs' | 's3';

export interface Placement {
  current: BackendKind;
  target: BackendKind | undefined;
}

export class BlobRouter implements BlobBackend {
  readonly #open: (kind: BackendKind) => BlobBackend;
  readonly #backends = new Map<BackendKind, BlobBackend>();
  readonly #placement;
  readonly #markDone;

  /** `open` makes a backend of a kind (the config's settings for it); each is opened once, on first use. */
  constructor(db: Db, open: (kind: BackendKind) => BlobBackend) {
    this.#open = open;
    this.#placement = db.prepare<[], { current: BackendKind; target: BackendKind | null }>('SELECT current, target FROM blob_storage WHERE id = 1');
    this.#markDone = db.prepare('INSERT OR IGNORE INTO blob_migration_done (blob_id, verified_at) VALUES (?, ?)');
    // The backends in use are opened now (the file-system one makes its directories), others when a
    // migration first needs them.
    this.#all();
  }

  placement(): Placement {
    const row = this.#placement.get();
    if (!row) throw new Error('the blob_storage row is missing');
    return { current: row.current, target: row.target ?? undefined };
  }

  /** The backend of a kind (for the migration, which copies between them). */
  backend(kind: BackendKind): BlobBackend {
    let backend = this.#backends.get(kind);
    if (!backend) {
      backend = this.#open(kind);
      this.#backends.set(kind, backend);
    }
    return backend;
  }

  #all(): BlobBackend[] {
    const { current, target } = this.placement();
    return target ? [this.backend(current), this.backend(target)] : [this.backend(current)];
  }

  /** The backend that holds blob `id` now (the target when the blob is there already). */
  async holder(id: string): Promise<BlobBackend> {
    const { current, target } = this.placement();
    if (target && (await this.backend(target).size(id)) !== undefined) return this.backend(target);
    return this.backend(current);
  }

  /**
   * Whether a blob written to `location` may still be committed (see the file comment). One written
   * to the migration's target is recorded as there already, in the same transaction: the migration
   * never has to look at it, so it keeps up with any rate of writes.
   */
  acceptsCommit(id: string, location: string | undefined): boolean {
    if (location === undefined) return true;
    const { current, target } = this.placement();
    if (location === target) {
      this.#markDone.run(id, new Date().toISOString());
      return true;
    }
    return location === current;
  }

  async create(id: string): Promise<BlobWriter> {
    const { current, target } = this.placement();
    const location = target ?? current;
    const writer = await this.backend(location).create(id);
    return { location, write: (c) => writer.write(c), publish: () => writer.publish(), abort: () => writer.abort() };
  }

  read(id: string, start: number, end: number, chunkSize?: number): Readable {
    const { target } = this.placement();
    if (!target) return this.#all()[0]!.read(id, start, end, chunkSize);
    // Which backend holds it is known only after a look: the stream starts once it is.
    const out = new PassThrough();
    this.holder(id).then(
      (backend) => {
        const source = backend.read(id, start, end, chunkSize);
        source.on('error', (error) => out.destroy(error));
        out.on('close', () => source.destroy());
        source.pipe(out);
      },
      (error: unknown) => out.destroy(error as Error),
    );
    return out;
  }

  /** Positional reads from the backend that holds the blob, where it offers them (the file system). */
  async openReader(id: string): Promise<BlobReader | undefined> {
    const { target } = this.placement();
    const backend = target ? await this.holder(id) : this.#all()[0]!;
    return backend.openReader?.(id);
  }

  async size(id: string): Promise<number | undefined> {
    return (await this.holder(id)).size(id);
  }

  /**
   * Every backend this process has opened: after a switch, a blob written to the old backend and
   * refused at commit is discarded there, and the sweep still clears the old backend's leftovers.
   */
  #opened(): BlobBackend[] {
    this.#all();
    return [...this.#backends.values()];
  }

  async remove(id: string): Promise<void> {
    for (const backend of this.#opened()) await backend.remove(id);
  }

  async *list(): AsyncIterable<{ id: string; modifiedMs: number }> {
    for (const backend of this.#opened()) yield* backend.list();
  }

  async clearStaging(olderThanMs: number): Promise<number> {
    let removed = 0;
    for (const backend of this.#opened()) removed += await backend.clearStaging(olderThanMs);
    return removed;
  }

  async check(): Promise<void> {
    for (const backend of this.#all()) await backend.check();
  }

  close(): void {
    for (const backend of this.#backends.values()) backend.close();
  }
}
