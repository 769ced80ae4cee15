/**
 * The read paths of a long history use their indexes (issue 20), checked with EXPLAIN QUERY PLAN on
 * the migrated schema, with the very SQL the repos prepare: read-in is a range of the packets'
 * primary key, a person's models page is a range of the (person, model) index with no sort, and a
 * blob's packet or baseline is found by index. Plans, not timings: a plan that scans or sorts is
 * what turns 10 ms into a second on a million packets.
 */
import test, { type ExecutionContext } from 'ava';
import { blobUsesSql } from '../../src/sharing/blob-uses.ts';
import { packetsAfterSql } from '../../src/sharing/history-repo.ts';
import { listForPersonSql } from '../../src/sharing/models-repo.ts';
import { openTestStores } from '../helpers/stores.ts';

function plan(t: ExecutionContext, sql: string, params: unknown[]): string {
  const { db } = openTestStores(t);
  // ANALYZE-free, as a fresh install is: the plan must not depend on statistics being gathered.
  return (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[]).map((r) => r.detail).join('\n');
}

test('read-in pages by a range of the packets primary key, in order, without a sort', (t) => {
  const detail = plan(t, packetsAfterSql, ['m_x', 10, 51]);
  t.regex(detail, /SEARCH packets USING INDEX sqlite_autoindex_packets_1 \(model_id=\? AND seq>\?\)/);
  t.notRegex(detail, /TEMP B-TREE|SCAN packets/);
});

test("a person's models page is a range scan of model_members_by_person_model, without a sort", (t) => {
  const detail = plan(t, listForPersonSql, ['p_x', '', '[]', 1, 51]);
  t.regex(detail, /SEARCH mm USING COVERING INDEX model_members_by_person_model \(person_id=\? AND model_id>\?\)/);
  t.regex(detail, /SEARCH m USING INDEX sqlite_autoindex_models_1 \(id=\?\)|SEARCH m USING INTEGER PRIMARY KEY|SEARCH m USING INDEX models_names \(id=\?\)/);
  t.notRegex(detail, /TEMP B-TREE FOR ORDER BY/);
});

test("a blob's packet or baseline is found by index, not by scanning every packet", (t) => {
  const detail = plan(t, blobUsesSql, ['b', 'b']);
  t.regex(detail, /SEARCH packets USING INDEX packets_by_blob \(blob_id=\?\)/);
  t.regex(detail, /SEARCH baselines USING INDEX baselines_by_blob \(blob_id=\?\)/);
  t.notRegex(detail, /SCAN packets|SCAN baselines/);
});
