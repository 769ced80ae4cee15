/**
 * Opens the SQLite database. Every pragma the server depends on is set here and nowhere else.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

export type Db = Database.Database;

export interface OpenOptions {
  /** `full` makes every commit durable before the call returns; `normal` trades that for speed. */
  synchronous: 'full' | 'normal';
  busyTimeoutMs: number;
  readonly?: boolean;
}

/** Opens (creating if needed) the database file with WAL, foreign keys and the chosen durability. */
export function openDatabase(file: string, options: OpenOptions): Db {
  if (!options.readonly) {
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true, mode: 0o700 });
    // Created owner-only; SQLite gives its -wal and -shm files the same mode as the database file.
    fs.closeSync(fs.openSync(file, 'a', 0o600));
  }
  const db = new Database(file, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false });
  db.pragma(`busy_timeout = ${Math.trunc(options.busyTimeoutMs)}`);
  if (!options.readonly) {
    // Takes effect in a new file (before its first table): retention then gives free pages back with
    // incremental vacuum instead of a VACUUM that blocks writers. An older file switches once (jobs/retention.ts).
    db.pragma('auto_vacuum = INCREMENTAL');
    // WAL lets readers (status page, backups, `keys status`) run beside the one writer. In WAL mode
    // synchronous=FULL fsyncs the log on every commit, so an acknowledged write survives power loss.
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    // Deleted rows (erased personal data, purged models) are overwritten, not left in free pages.
    db.pragma('secure_delete = ON');
  }
  db.pragma('foreign_keys = ON');
  return db;
}
