/**
 * Applies the plain SQL migrations in `migrations/` (named `NNNN-what.sql`), each once, in order, in
 * its own transaction, and records each with the SHA-256 of its text. A migration that was changed
 * after it was applied stops the server: the schema it made is not the one the file now describes.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Db } from './open.ts';

/** The migrations shipped with the server: `../../migrations` from `src/db`, one more up from `dist/src/db`. */
export function shippedMigrations(): string {
  for (const up of ['../../migrations/', '../../../migrations/']) {
    const dir = fileURLToPath(new URL(up, import.meta.url));
    if (fs.existsSync(dir)) return dir;
  }
  throw new MigrationError('the migrations directory is missing from this installation');
}

export class MigrationError extends Error {
  override name = 'MigrationError';
}

export interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

/** Reads the migration files in order; names must be `NNNN-name.sql` with unique numbers. */
export function readMigrations(dir = shippedMigrations()): Migration[] {
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.sql')).sort();
  const seen = new Set<number>();
  return files.map((name) => {
    const match = /^(\d{4})-[a-z0-9-]+\.sql$/.exec(name);
    if (!match) throw new MigrationError(`migration file ${name} is not named NNNN-name.sql`);
    const version = Number(match[1]);
    if (seen.has(version)) throw new MigrationError(`two migrations have the number ${match[1]}`);
    seen.add(version);
    const sql = fs.readFileSync(path.join(dir, name), 'utf8');
    return { version, name, sql, checksum: crypto.createHash('sha256').update(sql).digest('hex') };
  });
}

/** Applies every migration not yet applied; returns the names of those it applied. */
export function migrate(db: Db, migrations = readMigrations()): string[] {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    checksum TEXT NOT NULL,
    applied_at TEXT NOT NULL
  ) STRICT`);
  const applied = new Map(
    (db.prepare('SELECT version, name, checksum FROM schema_migrations').all() as { version: number; name: string; checksum: string }[])
      .map((row) => [row.version, row]),
  );
  for (const m of migrations) {
    const row = applied.get(m.version);
    if (row && row.checksum !== m.checksum) {
      throw new MigrationError(
        `migration ${m.name} was changed after it was applied (recorded checksum ${row.checksum.slice(0, 12)}…, ` +
          `file now ${m.checksum.slice(0, 12)}…); restore the original file and add a new migration instead`,
      );
    }
  }
  const known = new Set(migrations.map((m) => m.version));
  const unknown = [...applied.values()].filter((r) => !known.has(r.version));
  if (unknown.length > 0) {
    throw new MigrationError(
      `the database has migration ${unknown[0]!.name} that this version of the server does not know; ` +
        'it was written by a newer version',
    );
  }
  const record = db.prepare('INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)');
  const done: string[] = [];
  for (const m of migrations) {
    if (applied.has(m.version)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      record.run(m.version, m.name, m.checksum, new Date().toISOString());
    }).immediate();
    done.push(m.name);
  }
  return done;
}
