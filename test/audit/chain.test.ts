import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import Database from 'better-sqlite3';
import { auditJobs } from '../../src/audit/jobs.ts';
import { entryHash, type ChainedFields } from '../../src/audit/chain.ts';
import { createLogger } from '../../src/log.ts';
import { logCollector, startServer, type TestServer } from '../helpers/server.ts';
import { runCommand } from '../helpers/spawn.ts';

interface Row {
  seq: number;
  id: string;
}

/**
 * A real log: refused requests with bogus tokens written by the server, entries of the services,
 * and a head recorded by the periodic job (which logs it).
 */
async function realLog(t: ExecutionContext, entries = 12): Promise<{ server: TestServer; rows: Row[]; head: { seq: number; hash: string } }> {
  const server = await startServer(t, { MODELSHARE_TLS_MODE: 'off' });
  // Bad tokens are audited once per address and minute (the rest are counted): one row for these four.
  for (let i = 0; i < 4; i++) {
    const response = await server.fetch(`${server.url}/api/v1/me`, { headers: { authorization: `Bearer bogus-${i}` } });
    t.is(response.status, 401);
  }
  for (let i = 0; i < entries - 1; i++) {
    server.services.audit.record({ action: 'model.delete', outcome: i % 2 ? 'allowed' : 'denied', actor: { id: `p${i}`, email: `p${i}@example.com` }, target: { type: 'model', id: `m${i}` }, source: '10.0.0.7' });
  }
  const { stream, lines } = logCollector();
  const jobs = auditJobs(server.services.audit, createLogger('info', stream), server.config, () => new Date());
  await jobs.find((j) => j.name === 'audit-head')!.run(new AbortController().signal);
  server.logs.push(...lines);
  const head = server.services.audit.head();
  const rows = server.stores.db.prepare('SELECT seq, id FROM audit_events ORDER BY seq').all() as Row[];
  t.is(rows.length, entries);
  return { server, rows, head };
}

/** SQL on the database file, as someone with access to the disk would run it: the triggers go first. */
function attack<T>(server: TestServer, work: (db: Database.Database) => T): T {
  const db = new Database(path.join(server.dataDir, 'modelshare.db'));
  try {
    db.exec('DROP TRIGGER IF EXISTS audit_events_append_only; DROP TRIGGER IF EXISTS audit_events_no_delete; DROP TRIGGER IF EXISTS audit_anchors_no_delete');
    return work(db);
  } finally {
    db.close();
  }
}

function verify(server: TestServer, ...args: string[]) {
  return runCommand(['audit', 'verify', ...args], { MODELSHARE_DATA_DIR: server.dataDir, MODELSHARE_LOG_LEVEL: 'warn' });
}

test('the database itself refuses to change or delete audit entries and anchors', async (t) => {
  const { server } = await realLog(t, 6);
  const db = server.stores.db;
  t.throws(() => db.prepare("UPDATE audit_events SET outcome = 'allowed' WHERE seq = 2").run(), { any: true, message: /append-only/ });
  t.throws(() => db.prepare('UPDATE audit_events SET details_sealed = x\'00\' WHERE seq = 2').run(), { any: true, message: /append-only/ });
  t.throws(() => db.prepare('DELETE FROM audit_events WHERE seq = 6').run(), { any: true, message: /append-only/ });
  t.throws(() => db.prepare('DELETE FROM audit_anchors').run(), { any: true, message: /append-only/ });
  t.throws(() => db.prepare("UPDATE audit_anchors SET reason = 'x'").run(), { any: true, message: /append-only/ });
  // Erasure of a person's details is the one change allowed, and the chain still holds after it.
  server.services.audit.forget('p1');
  t.true(server.services.audit.verify().ok);
  t.is(server.services.audit.verify().erased, 1);
});

test('audit verify passes on a real log, and checks a head taken from the log line', async (t) => {
  const { server, head } = await realLog(t);
  const line = server.logs.find((l) => l['msg'] === 'audit log head') as { audit_head: { seq: number; hash: string } } | undefined;
  t.truthy(line, 'the periodic job logs the head');
  t.deepEqual(line!.audit_head.seq, head.seq);
  const result = verify(server, '--head', `${line!.audit_head.seq}:${line!.audit_head.hash}`);
  t.is(result.code, 0, result.stdout + result.stderr);
  t.regex(result.stdout, /12 entries checked, #1 to #12/);
  t.regex(result.stdout, /recorded head #12 .*: checked/);
  t.regex(result.stdout, /OK: the audit log verifies/);
  // (The same check in this process: each run of the command costs a process start.)
  t.false(server.services.audit.hasHead(head.seq, '0'.repeat(64)));
  t.false(server.services.audit.hasHead(head.seq + 1, head.hash));
});

test('audit verify names the entry whose plain column was edited', async (t) => {
  const { server, rows } = await realLog(t);
  attack(server, (db) => db.prepare("UPDATE audit_events SET outcome = CASE outcome WHEN 'allowed' THEN 'denied' ELSE 'allowed' END, reason = 'edited' WHERE seq = 5").run());
  const result = verify(server);
  t.is(result.code, 1);
  t.regex(result.stdout, new RegExp(`FAILED: altered: entry #5 \\(${rows[4]!.id}\\) was altered`));
});

test('audit verify names the entry whose sealed details were replaced', async (t) => {
  const { server, rows } = await realLog(t);
  attack(server, (db) => db.prepare('UPDATE audit_events SET details_sealed = (SELECT details_sealed FROM audit_events WHERE seq = 9) WHERE seq = 6').run());
  t.like(server.services.audit.verify().problem, { kind: 'altered', seq: 6, id: rows[5]!.id });
});

test('audit verify names the entry that was deleted', async (t) => {
  const { server } = await realLog(t);
  attack(server, (db) => db.prepare('DELETE FROM audit_events WHERE seq = 7').run());
  const result = verify(server);
  t.is(result.code, 1);
  t.regex(result.stdout, /FAILED: removed: entry #7 is missing/);
});

test('audit verify finds a deletion hidden by renumbering the entries after it', async (t) => {
  const { server, rows } = await realLog(t);
  attack(server, (db) => {
    db.prepare('DELETE FROM audit_events WHERE seq = 7').run();
    db.prepare('UPDATE audit_events SET seq = -seq + 1 WHERE seq > 7').run();
    db.prepare('UPDATE audit_events SET seq = -seq WHERE seq < 0').run();
  });
  t.like(server.services.audit.verify().problem, { kind: 'removed', seq: 7, id: rows[7]!.id });
});

test('audit verify names the entries that were swapped', async (t) => {
  const { server, rows } = await realLog(t);
  attack(server, (db) => {
    db.prepare('UPDATE audit_events SET seq = -4 WHERE seq = 4').run();
    db.prepare('UPDATE audit_events SET seq = 4 WHERE seq = 8').run();
    db.prepare('UPDATE audit_events SET seq = 8 WHERE seq = -4').run();
  });
  const result = verify(server);
  t.is(result.code, 1);
  t.regex(result.stdout, new RegExp(`FAILED: reordered: entry #4 \\(${rows[7]!.id}\\) is out of order: it was written after entry #`));
});

test('audit verify finds a truncated tail against the last recorded head', async (t) => {
  const { server } = await realLog(t);
  attack(server, (db) => db.prepare('DELETE FROM audit_events WHERE seq > 9').run());
  const result = verify(server);
  t.is(result.code, 1);
  t.regex(result.stdout, /FAILED: truncated: entries #10 to #12 are missing: the head recorded at .* was entry #12, the log ends at #9/);
});

test('a chain rewritten after its recorded head does not match the head', async (t) => {
  const { server } = await realLog(t);
  // Whoever knows the hash rule can edit the last entry and recompute its hash: the walk alone passes.
  attack(server, (db) => {
    db.prepare("UPDATE audit_events SET action = 'model.restore' WHERE seq = 12").run();
    const row = db.prepare('SELECT * FROM audit_events WHERE seq = 12').get() as ChainedFields & { prev_hash: Buffer };
    db.prepare('UPDATE audit_events SET hash = ? WHERE seq = 12').run(entryHash(row.prev_hash, row));
  });
  const report = server.services.audit.verify();
  t.is(report.entries, 12);
  t.like(report.problem, { kind: 'altered', seq: 12 });
  t.regex(report.problem!.message, /entry #12 is not the one the head recorded at .* names/);
});
