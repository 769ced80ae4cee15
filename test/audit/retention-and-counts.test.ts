import crypto from 'node:crypto';
import path from 'node:path';
import test from 'ava';
import { AuditService } from '../../src/audit/audit-service.ts';
import { Keyring } from '../../src/crypto/keyring.ts';
import { keyFile } from '../../src/crypto/master-keys.ts';
import { migrate, readMigrations } from '../../src/db/migrate.ts';
import { openDatabase } from '../../src/db/open.ts';
import { runCommand } from '../helpers/spawn.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { testClock } from '../helpers/server.ts';
import { openTestStores } from '../helpers/stores.ts';

const day = 86_400_000;

function auditLog(t: Parameters<typeof openTestStores>[0]) {
  const stores = openTestStores(t);
  const clock = testClock(new Date('2026-01-01T00:00:00Z'));
  return { ...stores, clock, audit: new AuditService(stores.db, stores.keys, clock) };
}

test('retention removes old entries behind a start anchor, and the kept chain still verifies', (t) => {
  const { audit, clock, db } = auditLog(t);
  for (let i = 0; i < 30; i++) {
    audit.record({ action: 'model.read', outcome: 'allowed', target: { type: 'model', id: `m${i}` } });
    clock.advance(day);
  }
  audit.recordHead('backup');
  const removed = audit.prune(new Date('2026-01-11T00:00:00Z'));
  t.is(removed, 10);
  const report = audit.verify();
  t.true(report.ok, report.problem?.message);
  t.like(report, { first_seq: 11, last_seq: 30, entries: 20 });
  // The chain goes on from where it was, after retention too.
  audit.record({ action: 'model.read', outcome: 'allowed' });
  t.is(audit.head().seq, 31);
  t.true(audit.verify().ok);
  // Pruning everything keeps the chain's place; the next entry links to the last removed one.
  clock.advance(day);
  t.is(audit.prune(clock.now()), 21);
  audit.record({ action: 'model.read', outcome: 'allowed' });
  t.like(audit.verify(), { ok: true, first_seq: 32, last_seq: 32 });
  // Nothing before the start anchor can be kept a secret by deleting the anchor: the chain no longer starts at #1.
  db.exec('DROP TRIGGER audit_anchors_no_delete');
  db.prepare("DELETE FROM audit_anchors WHERE kind = 'start'").run();
  t.like(audit.verify().problem, { kind: 'removed', seq: 1 });
});

test('a start anchor forged with SQL is refused', (t) => {
  const { audit, clock, db } = auditLog(t);
  for (let i = 0; i < 5; i++) {
    audit.record({ action: 'model.read', outcome: 'allowed' });
    clock.advance(day);
  }
  const third = db.prepare('SELECT hash FROM audit_events WHERE seq = 3').get() as { hash: Buffer };
  db.prepare("INSERT INTO audit_anchors (kind, seq, hash, reason, recorded_at, key_id, mac) VALUES ('start', 4, ?, 'prune', ?, ?, ?)")
    .run(third.hash, clock.now().toISOString(), audit.rotateKey(), crypto.randomBytes(32));
  t.like(audit.verify().problem, { kind: 'anchor_forged', seq: 4 });
});

test('retention refuses to remove entries from a log that does not verify', (t) => {
  const { audit, clock, db } = auditLog(t);
  for (let i = 0; i < 5; i++) {
    audit.record({ action: 'model.read', outcome: 'allowed' });
    clock.advance(day);
  }
  db.exec('DROP TRIGGER audit_events_append_only');
  db.prepare("UPDATE audit_events SET action = 'x' WHERE seq = 2").run();
  t.throws(() => audit.prune(clock.now()), { message: /does not verify.*entry #2.*nothing was removed/ });
  t.is((db.prepare('SELECT count(*) AS n FROM audit_events').get() as { n: number }).n, 5);
});

test('repeated identical refusals are counted, with one full entry per source and window', (t) => {
  const { audit, clock, db } = auditLog(t);
  const refusal = { action: 'auth.bearer', outcome: 'denied' as const, reason: 'invalid_token' };
  const counts = Array.from({ length: 50 }, () => audit.recordRepeated({ ...refusal, source: '10.0.0.9' }));
  t.deepEqual(counts.slice(0, 3), [1, 2, 3]);
  audit.recordRepeated({ ...refusal, source: '10.0.0.10' });
  const rows = () => (db.prepare("SELECT count(*) AS n FROM audit_events WHERE action = 'auth.bearer'").get() as { n: number }).n;
  t.is(rows(), 2);
  const listed = audit.counts(new Date(0));
  t.deepEqual(listed.map((c) => c.count), [50, 1]);
  t.false(JSON.stringify(listed).includes('10.0.0.9'), 'the source is stored as a keyed hash only');
  // A new window starts a new count, and a new full entry.
  clock.advance(3_600_000);
  t.is(audit.recordRepeated({ ...refusal, source: '10.0.0.9' }), 1);
  t.is(rows(), 3);
  t.true(audit.verify().ok);
});

test('audit details are sealed under the rotatable audit key, and older entries open after a rotation', (t) => {
  const { audit, keys } = auditLog(t);
  audit.record({ action: 'a', outcome: 'allowed', source: '10.1.1.1' });
  const first = keys.current('audit');
  t.not(first, keys.singleton('personal'));
  const next = audit.rotateKey();
  t.not(next, first);
  t.is(keys.current('audit'), next);
  audit.record({ action: 'b', outcome: 'allowed', source: '10.2.2.2' });
  t.deepEqual(audit.recent(new Date(0)).map((e) => e.source).sort(), ['10.1.1.1', '10.2.2.2']);
  t.true(audit.verify().ok);
});

test('entries written before the chain existed are numbered by the migration and chained at the next start', (t) => {
  const dir = tmpDir(t);
  const db = openDatabase(path.join(dir, 'm.db'), { synchronous: 'full', busyTimeoutMs: 1000 });
  t.teardown(() => db.close());
  const all = readMigrations();
  migrate(db, all.filter((m) => m.version < 9));
  const insert = db.prepare("INSERT INTO audit_events (id, at, action, outcome, details_sealed) VALUES (?, ?, 'auth.sign_in', 'denied', ?)");
  insert.run('b', '2026-01-02T00:00:00.000Z', Buffer.from('sealed b'));
  insert.run('a', '2026-01-01T00:00:00.000Z', null);
  insert.run('c', '2026-01-03T00:00:00.000Z', Buffer.from('sealed c'));
  migrate(db, all);
  const keys = new Keyring(db, keyFile(path.join(dir, 'master.key')));
  const audit = new AuditService(db, keys, testClock());
  t.deepEqual(db.prepare('SELECT id FROM audit_events ORDER BY seq').all(), [{ id: 'a' }, { id: 'b' }, { id: 'c' }]);
  audit.record({ action: 'model.read', outcome: 'allowed' });
  t.like(audit.verify(), { ok: true, entries: 4, last_seq: 4 });
  // Two writers on two connections (the server and a command) continue one chain.
  const other = openDatabase(path.join(dir, 'm.db'), { synchronous: 'full', busyTimeoutMs: 1000 });
  t.teardown(() => other.close());
  const second = new AuditService(other, new Keyring(other, keyFile(path.join(dir, 'master.key'))), testClock());
  for (let i = 0; i < 5; i++) (i % 2 ? audit : second).record({ action: 'model.read', outcome: 'allowed' });
  t.like(second.verify(), { ok: true, entries: 9 });
});

test('`modelshare keys rotate-data audit` gives new entries a fresh key; everything still opens and verifies', async (t) => {
  const dir = tmpDir(t);
  const env = { MODELSHARE_DATA_DIR: dir, MODELSHARE_LOG_LEVEL: 'warn' };
  const first = openTestStores(t, {}, dir);
  const audit = new AuditService(first.db, first.keys, testClock());
  audit.record({ action: 'before', outcome: 'allowed', source: '10.0.0.1' });
  const before = first.keys.current('audit');
  const rotated = runCommand(['keys', 'rotate-data', 'audit'], env);
  t.is(rotated.code, 0, rotated.stderr);
  const after = first.keys.current('audit');
  t.not(after, before);
  t.regex(rotated.stdout, new RegExp(`new audit data key ${after}`));
  audit.record({ action: 'after', outcome: 'allowed', source: '10.0.0.2' });
  const sealedWith = (action: string) => (first.db.prepare('SELECT hex(substr(details_sealed, 2, 16)) AS k FROM audit_events WHERE action = ?').get(action) as { k: string }).k.toLowerCase();
  t.is(sealedWith('before'), before);
  t.is(sealedWith('after'), after);
  t.deepEqual(audit.recent(new Date(0)).map((e) => e.source).sort(), ['10.0.0.1', '10.0.0.2']);
  t.true(audit.verify().ok);
  t.throws(() => first.keys.rotatePurpose('personal' as never), { message: /cannot be rotated/ });
});
