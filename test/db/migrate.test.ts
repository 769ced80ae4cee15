import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { migrate, MigrationError, readMigrations } from '../../src/db/migrate.ts';
import { openDatabase } from '../../src/db/open.ts';
import { tmpDir } from '../helpers/tmp.ts';

function setup(t: Parameters<typeof tmpDir>[0]) {
  const dir = tmpDir(t);
  const migrations = path.join(dir, 'migrations');
  fs.mkdirSync(migrations);
  fs.writeFileSync(path.join(migrations, '0001-first.sql'), 'CREATE TABLE a (x INTEGER) STRICT;');
  fs.writeFileSync(path.join(migrations, '0002-second.sql'), 'CREATE TABLE b (y INTEGER) STRICT;');
  const db = openDatabase(path.join(dir, 'test.db'), { synchronous: 'full', busyTimeoutMs: 1000 });
  t.teardown(() => db.close());
  return { db, migrations };
}

test('migrations apply once, in order, and are recorded with a checksum', (t) => {
  const { db, migrations } = setup(t);
  t.deepEqual(migrate(db, readMigrations(migrations)), ['0001-first.sql', '0002-second.sql']);
  t.deepEqual(migrate(db, readMigrations(migrations)), []);
  const rows = db.prepare('SELECT version, name, length(checksum) AS n FROM schema_migrations ORDER BY version').all();
  t.deepEqual(rows, [
    { version: 1, name: '0001-first.sql', n: 64 },
    { version: 2, name: '0002-second.sql', n: 64 },
  ]);
});

test('an edited, already-applied migration stops with a clear error', (t) => {
  const { db, migrations } = setup(t);
  migrate(db, readMigrations(migrations));
  fs.writeFileSync(path.join(migrations, '0001-first.sql'), 'CREATE TABLE a (x INTEGER, z TEXT) STRICT;');
  const error = t.throws(() => migrate(db, readMigrations(migrations)), { instanceOf: MigrationError });
  t.regex(error!.message, /migration 0001-first\.sql was changed after it was applied/);
});

test('a failing migration leaves nothing behind and is not recorded', (t) => {
  const { db, migrations } = setup(t);
  fs.writeFileSync(path.join(migrations, '0003-broken.sql'), 'CREATE TABLE c (z INTEGER) STRICT; INSERT INTO nowhere VALUES (1);');
  t.throws(() => migrate(db, readMigrations(migrations)), { any: true, message: /no such table: nowhere/ });
  t.deepEqual(db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'c'").get(), { n: 0 });
  t.deepEqual(db.prepare('SELECT max(version) AS v FROM schema_migrations').get(), { v: 2 });
});

test('a database from a newer version is refused', (t) => {
  const { db, migrations } = setup(t);
  migrate(db, readMigrations(migrations));
  fs.rmSync(path.join(migrations, '0002-second.sql'));
  t.throws(() => migrate(db, readMigrations(migrations)), { message: /does not know/ });
});

test('the shipped migrations apply to a fresh database', (t) => {
  const dir = tmpDir(t);
  const db = openDatabase(path.join(dir, 'fresh.db'), { synchronous: 'full', busyTimeoutMs: 1000 });
  t.teardown(() => db.close());
  t.true(migrate(db).length > 0);
  t.deepEqual(db.pragma('journal_mode'), [{ journal_mode: 'wal' }]);
  t.deepEqual(db.pragma('synchronous'), [{ synchronous: 2 }]);
  t.is(fs.statSync(path.join(dir, 'fresh.db')).mode & 0o777, 0o600);
});
