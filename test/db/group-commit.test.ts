import path from 'node:path';
import test from 'ava';
import { GroupCommit } from '../../src/db/group-commit.ts';
import { openDatabase } from '../../src/db/open.ts';
import { tmpDir } from '../helpers/tmp.ts';

test('units queued together commit together; one that throws rolls back alone', async (t) => {
  const file = path.join(tmpDir(t), 'g.db');
  const db = openDatabase(file, { synchronous: 'full', busyTimeoutMs: 1000 });
  t.teardown(() => db.close());
  db.exec('CREATE TABLE x (v INTEGER PRIMARY KEY) STRICT');
  const insert = db.prepare('INSERT INTO x (v) VALUES (?)');
  const groups = new GroupCommit(db);
  let commits = 0;
  // A second connection sees only what is committed: had each unit its own transaction, unit 1's
  // row would be visible to it while unit 3 runs.
  const reader = openDatabase(file, { synchronous: 'full', busyTimeoutMs: 1000 });
  t.teardown(() => reader.close());
  let committedBeforeGroupEnded = -1;
  const results = await Promise.allSettled([
    groups.run(() => insert.run(1).changes),
    groups.run(() => {
      insert.run(2);
      throw new Error('this unit fails after writing');
    }),
    groups.run(() => {
      commits = (db.prepare('SELECT count(*) AS n FROM x').get() as { n: number }).n;
      committedBeforeGroupEnded = (reader.prepare('SELECT count(*) AS n FROM x').get() as { n: number }).n;
      return insert.run(3).changes;
    }),
  ]);
  t.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
  t.deepEqual((db.prepare('SELECT v FROM x ORDER BY v').all() as { v: number }[]).map((r) => r.v), [1, 3]);
  t.is(commits, 1, 'the third unit saw the first unit\'s row and not the failed one\'s');
  t.is(committedBeforeGroupEnded, 0, 'nothing was committed before the whole group: one transaction, savepoints within');
  t.is((reader.prepare('SELECT count(*) AS n FROM x').get() as { n: number }).n, 2);
});
