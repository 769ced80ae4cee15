/**
 * Data keys, wrapped by the master key (envelope encryption as cloud KMSs do it). Every model has its
 * own data key, personal data has one, the TLS keys have one, the audit log has one. A data key is
 * only ever the input of HKDF (sealed.ts, stream-aead.ts), never an encryption key itself. A data key
 * never changes; rotating the master key re-wraps the rows of `data_keys` and leaves sealed values and
 * blobs untouched. The purposes in `rotatablePurposes` can also get a fresh data key (`rotatePurpose`):
 * new values use the newest (`current`), older values name theirs and still open.
 */
import crypto from 'node:crypto';
import type { Db } from '../db/open.ts';
import { MasterKeyError, primaryKey, type MasterKey, type MasterKeySource } from './master-keys.ts';

export type DataKeyPurpose = 'personal' | 'model' | 'tls' | 'audit';

/**
 * Purposes whose values always name their data key, so a new one can take over at any time. Not
 * `personal`: its blind indexes (e-mail look-ups) are keyed by its first key and would need rebuilding.
 */
export const rotatablePurposes = ['audit', 'tls'] as const satisfies readonly DataKeyPurpose[];
export type RotatablePurpose = (typeof rotatablePurposes)[number];

interface DataKeyRow {
  id: string;
  purpose: DataKeyPurpose;
  wrapped: Buffer;
  wrapping_key_id: string;
}

export interface KeyStatus {
  masterKeys: { id: string; primary: boolean; pending: boolean; wraps: number }[];
  /** Rows wrapped by a key that the key source no longer has: these cannot be opened. */
  orphaned: { wrapping_key_id: string; count: number }[];
  source: string;
}

function wrapAad(id: string, purpose: string): Buffer {
  return Buffer.from(`modelshare data key v1\0${id}\0${purpose}`);
}

function wrap(master: MasterKey, id: string, purpose: string, dataKey: Buffer): Buffer {
  const nonce = crypto.randomBytes(12);
  const cipher = crypto.createCipheriv('aes-256-gcm', master.key, nonce);
  cipher.setAAD(wrapAad(id, purpose));
  return Buffer.concat([nonce, cipher.update(dataKey), cipher.final(), cipher.getAuthTag()]);
}

function unwrap(master: MasterKey, row: DataKeyRow): Buffer {
  const decipher = crypto.createDecipheriv('aes-256-gcm', master.key, row.wrapped.subarray(0, 12));
  decipher.setAAD(wrapAad(row.id, row.purpose));
  decipher.setAuthTag(row.wrapped.subarray(-16));
  return Buffer.concat([decipher.update(row.wrapped.subarray(12, -16)), decipher.final()]);
}

/** How many data keys each master key (by id) wraps; for opening checks before a keyring exists. */
export function dataKeysByWrappingKey(db: Db): Map<string, number> {
  const rows = db.prepare<[], { wrapping_key_id: string; count: number }>('SELECT wrapping_key_id, count(*) AS count FROM data_keys GROUP BY wrapping_key_id').all();
  return new Map(rows.map((r) => [r.wrapping_key_id, r.count]));
}

export class Keyring {
  readonly #db: Db;
  readonly #source: MasterKeySource;
  readonly #cache = new Map<string, Buffer>();
  readonly #singletons = new Map<DataKeyPurpose, string>();
  readonly #sql;

  constructor(db: Db, source: MasterKeySource) {
    this.#db = db;
    this.#source = source;
    this.#sql = {
      get: db.prepare<[string], DataKeyRow>('SELECT id, purpose, wrapped, wrapping_key_id FROM data_keys WHERE id = ?'),
      byPurpose: db.prepare<[string], { id: string }>('SELECT id FROM data_keys WHERE purpose = ? ORDER BY created_at LIMIT 1'),
      destroy: db.prepare('DELETE FROM data_keys WHERE id = ?'),
      newestByPurpose: db.prepare<[string], { id: string }>('SELECT id FROM data_keys WHERE purpose = ? ORDER BY created_at DESC, rowid DESC LIMIT 1'),
      insert: db.prepare('INSERT INTO data_keys (id, purpose, wrapped, wrapping_key_id, created_at) VALUES (?, ?, ?, ?, ?)'),
      notWrappedBy: db.prepare<[string, number], DataKeyRow>(
        'SELECT id, purpose, wrapped, wrapping_key_id FROM data_keys WHERE wrapping_key_id <> ? LIMIT ?',
      ),
      rewrap: db.prepare('UPDATE data_keys SET wrapped = ?, wrapping_key_id = ?, rewrapped_at = ? WHERE id = ? AND wrapping_key_id = ?'),
      countByWrappingKey: db.prepare<[], { wrapping_key_id: string; count: number }>(
        'SELECT wrapping_key_id, count(*) AS count FROM data_keys GROUP BY wrapping_key_id',
      ),
    };
  }

  #primary(): MasterKey {
    return primaryKey(this.#source.current());
  }

  #master(id: string): MasterKey {
    const key = this.#source.current().find((k) => k.id === id);
    if (!key) throw new MasterKeyError(`master key ${id} is not in ${this.#source.description}`);
    return key;
  }

  /** Creates a random data key for a purpose, wrapped by the primary master key; returns its id. */
  create(purpose: DataKeyPurpose): string {
    const id = crypto.randomBytes(16).toString('hex');
    const dataKey = crypto.randomBytes(32);
    const master = this.#primary();
    this.#sql.insert.run(id, purpose, wrap(master, id, purpose, dataKey), master.id, new Date().toISOString());
    this.#cache.set(id, dataKey);
    return id;
  }

  /** The single data key of a purpose such as `personal`, created the first time it is asked for. */
  singleton(purpose: DataKeyPurpose): string {
    // Remembered: once it exists it never changes, and this is asked on hot paths (every audit record).
    let id = this.#singletons.get(purpose);
    if (!id) {
      id = this.#db.transaction(() => this.#sql.byPurpose.get(purpose)?.id ?? this.create(purpose)).immediate();
      this.#singletons.set(purpose, id);
    }
    return id;
  }

  /**
   * Destroys a data key (crypto-erasure): whatever it sealed can never be opened again, in this
   * database. Backups taken before still hold the wrapped key until backup retention drops them.
   */
  destroy(id: string): void {
    this.#sql.destroy.run(id);
    this.#cache.delete(id);
  }

  /**
   * The newest data key of a rotatable purpose, for new values; created the first time. Read from
   * the database each time (an indexed look-up), so a rotation by the command line takes effect at once.
   */
  current(purpose: RotatablePurpose): string {
    return this.#sql.newestByPurpose.get(purpose)?.id ?? this.singleton(purpose);
  }

  /** Makes a fresh data key the current one of a rotatable purpose; older ones keep opening what they sealed. */
  rotatePurpose(purpose: RotatablePurpose): string {
    if (!(rotatablePurposes as readonly string[]).includes(purpose)) throw new MasterKeyError(`data keys of purpose ${purpose} cannot be rotated`);
    this.singleton(purpose);
    return this.create(purpose);
  }

  /** The plaintext data key; unwrapped once and then kept in memory. */
  get(id: string): Buffer {
    const cached = this.#cache.get(id);
    if (cached) return cached;
    const row = this.#sql.get.get(id);
    if (!row) throw new MasterKeyError(`data key ${id} does not exist`);
    const key = unwrap(this.#master(row.wrapping_key_id), row);
    this.#cache.set(id, key);
    return key;
  }

  /**
   * Re-wraps every data key not wrapped by the primary master key, in small transactions so the
   * server keeps serving. A row changed meanwhile is left for the next pass (the WHERE guards it).
   */
  rewrapAll(): number {
    let done = 0;
    for (;;) {
      const primary = this.#primary();
      const rows = this.#sql.notWrappedBy.all(primary.id, 100);
      if (rows.length === 0) return done;
      const rewrapped = rows.map((row) => ({ row, wrapped: wrap(primary, row.id, row.purpose, unwrap(this.#master(row.wrapping_key_id), row)) }));
      const now = new Date().toISOString();
      this.#db.transaction(() => {
        for (const { row, wrapped } of rewrapped) done += this.#sql.rewrap.run(wrapped, primary.id, now, row.id, row.wrapping_key_id).changes;
      }).immediate();
    }
  }

  /**
   * Rotation, step one: adds a new master key to the key file, marked pending. It wraps nothing until
   * `activateRotation`, so no data key depends on it before the operator has backed the file up.
   */
  beginRotation(): { newKeyId: string } {
    return this.#source.locked(() => {
      const pending = this.#source.current().find((k) => k.pending);
      if (pending) throw new MasterKeyError(`master key ${pending.id} is pending already: back up ${this.#source.description}, then activate it`);
      return { newKeyId: this.#source.addPendingKey().id };
    });
  }

  /** Rotation, step two: makes the pending key the primary one and re-wraps every data key under it. */
  activateRotation(): { newKeyId: string; rewrapped: number } {
    return this.#source.locked(() => {
      const pending = this.#source.current().find((k) => k.pending);
      if (!pending) throw new MasterKeyError(`${this.#source.description} has no pending master key: \`keys rotate\` adds one first`);
      this.#source.activate(pending.id);
      return { newKeyId: pending.id, rewrapped: this.rewrapAll() };
    });
  }

  /** Removes from the key file the older master keys that no data key is wrapped by any more. */
  retireUnused(): string[] {
    return this.#source.locked(() => {
      const used = new Set(this.#sql.countByWrappingKey.all().map((r) => r.wrapping_key_id));
      const keys = this.#source.current();
      const primary = this.#primary();
      const retired = keys.filter((k) => k !== primary && !k.pending && !used.has(k.id)).map((k) => k.id);
      if (retired.length > 0) this.#source.keepOnly(new Set(keys.map((k) => k.id).filter((id) => !retired.includes(id))));
      return retired;
    });
  }

  /** Which master key wraps how many data keys. */
  status(): KeyStatus {
    const counts = new Map(this.#sql.countByWrappingKey.all().map((r) => [r.wrapping_key_id, r.count]));
    const keys = this.#source.current();
    const known = new Set(keys.map((k) => k.id));
    return {
      source: this.#source.description,
      masterKeys: keys.map((k) => ({ id: k.id, primary: k === primaryKey(keys), pending: k.pending ?? false, wraps: counts.get(k.id) ?? 0 })),
      orphaned: [...counts].filter(([id]) => !known.has(id)).map(([wrapping_key_id, count]) => ({ wrapping_key_id, count })),
    };
  }
}
