/**
 * The audit log: one row for every security-relevant action, whether it was allowed, denied or
 * failed. What and when are plain columns so admins can filter; who (e-mail) and from where (address)
 * are personal data and sealed, under the `audit` data key (rotatable: `rotateKey`).
 *
 * The log is append-only and hash-chained (chain.ts): `head()` is the newest link, `recordHead()`
 * records it as an anchor (periodically and at each backup) so a cut-off tail is found, `prune()`
 * removes old entries behind a start anchor, and `verify()` walks the chain. Routine refusals that
 * repeat are counted per window (refusal-counts.ts) instead of written one row each.
 */
import crypto from 'node:crypto';
import type { Clock } from '../clock.ts';
import type { Keyring } from '../crypto/keyring.ts';
import { openText, seal } from '../crypto/sealed.ts';
import type { Db } from '../db/open.ts';
import { anchorMac, detailsDigest, entryHash, genesisHash, headOnChain, verifyChain, type Anchor, type ChainReport, type ChainSource, type ChainedRow } from './chain.ts';
import { RefusalCounts, type RefusalCount, type RefusalKey } from './refusal-counts.ts';

export type AuditOutcome = 'allowed' | 'denied' | 'failed';

export interface AuditEntry {
  action: string;
  outcome: AuditOutcome;
  /** The person who acted, if known. */
  actor?: { id: string; email?: string | undefined } | undefined;
  target?: { type: string; id: string } | undefined;
  /** A stable code saying why, e.g. `state_mismatch`; never personal data. */
  reason?: string | undefined;
  /** The client address. */
  source?: string | undefined;
  /** More context, sealed with the rest of the personal data. */
  details?: Record<string, unknown> | undefined;
}

export interface AuditEvent extends Omit<AuditEntry, 'actor'> {
  id: string;
  /** The entry's place in the chain: increases by one per entry, never reused. */
  seq: number;
  at: string;
  actor_id: string | null;
  actor_email: string | null;
}

/** The newest link of the chain: what backup manifests and the periodic log line record. */
export interface AuditHead {
  seq: number;
  /** Hex SHA-256. */
  hash: string;
  /** When the newest entry was written (null for an empty log). */
  at: string | null;
}

interface AuditRow extends ChainedRow {
  outcome: AuditOutcome;
}

interface AnchorRow extends Anchor {
  key_id: string;
  mac: Buffer;
}

const detailsPlace = (id: string) => ({ table: 'audit_events', column: 'details', row: id });
const pruneBatch = 5_000;

export class AuditService {
  readonly #db: Db;
  readonly #keys: Keyring;
  readonly #clock: Clock;
  readonly #sql;
  readonly #append;
  readonly #appendRow;
  readonly #counts: RefusalCounts;
  readonly #observers: ((entry: AuditEntry) => void)[] = [];

  constructor(db: Db, keys: Keyring, clock: Clock) {
    this.#db = db;
    this.#keys = keys;
    this.#clock = clock;
    this.#sql = {
      insert: db.prepare(
        'INSERT INTO audit_events (id, seq, at, action, outcome, actor_id, target_type, target_id, reason, details_sealed, details_digest, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      last: db.prepare<[], { seq: number; hash: Buffer | null; at: string }>('SELECT seq, hash, at FROM audit_events ORDER BY seq DESC LIMIT 1'),
      from: db.prepare<[number], AuditRow>('SELECT * FROM audit_events WHERE seq >= ? ORDER BY seq'),
      bySeq: db.prepare<[number], AuditRow>('SELECT * FROM audit_events WHERE seq = ?'),
      seqOfHash: db.prepare<[Buffer], { seq: number }>('SELECT seq FROM audit_events WHERE hash = ?'),
      unchained: db.prepare<[], AuditRow>('SELECT * FROM audit_events WHERE hash IS NULL ORDER BY seq'),
      chain: db.prepare('UPDATE audit_events SET details_digest = ?, prev_hash = ?, hash = ? WHERE id = ? AND hash IS NULL'),
      firstAtOrAfter: db.prepare<[string], { seq: number | null }>('SELECT min(seq) AS seq FROM audit_events WHERE at >= ?'),
      firstSeq: db.prepare<[], { seq: number | null }>('SELECT min(seq) AS seq FROM audit_events'),
      deleteBefore: db.prepare<[number, number]>('DELETE FROM audit_events WHERE seq < ? AND seq < ?'),
      anchors: db.prepare<[string], AnchorRow>('SELECT kind, seq, hash, reason, recorded_at, key_id, mac FROM audit_anchors WHERE kind = ? ORDER BY seq DESC, id DESC'),
      newestStart: db.prepare<[], { seq: number; hash: Buffer }>("SELECT seq, hash FROM audit_anchors WHERE kind = 'start' ORDER BY seq DESC, id DESC LIMIT 1"),
      insertAnchor: db.prepare('INSERT INTO audit_anchors (kind, seq, hash, reason, recorded_at, key_id, mac) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      recent: db.prepare<[string, number], AuditRow>('SELECT * FROM audit_events WHERE at >= ? ORDER BY at DESC, seq DESC LIMIT ?'),
      byActor: db.prepare<[string, number], AuditRow>('SELECT * FROM audit_events WHERE actor_id = ? ORDER BY at DESC, seq DESC LIMIT ?'),
      forgetActor: db.prepare('UPDATE audit_events SET details_sealed = NULL WHERE actor_id = ? AND details_sealed IS NOT NULL'),
      forgetTarget: db.prepare('UPDATE audit_events SET details_sealed = NULL WHERE target_id = ? AND details_sealed IS NOT NULL'),
    };
    // Reading the last link and writing the next one is one IMMEDIATE transaction, so two processes
    // (the server and a command) never write two entries with the same seq or the same previous hash.
    this.#appendRow = (row: Omit<ChainedRow, 'seq' | 'prev_hash' | 'hash'>) => {
      const last = this.#tip();
      const fields = { ...row, seq: last.seq + 1 };
      const hash = entryHash(last.hash, fields);
      this.#sql.insert.run(row.id, fields.seq, row.at, row.action, row.outcome, row.actor_id, row.target_type, row.target_id, row.reason, row.details_sealed, row.details_digest, last.hash, hash);
    };
    this.#append = db.transaction(this.#appendRow);
    this.#counts = new RefusalCounts(db, (source) => this.#sourceHash(source));
    this.#chainMigrated();
  }

  record(entry: AuditEntry): void {
    const id = crypto.randomBytes(12).toString('hex');
    const details = { actor_email: entry.actor?.email, source: entry.source, ...entry.details };
    // Sealing happens before the transaction, which only writes the row.
    const sealed = seal(this.#keys, this.#keys.current('audit'), detailsPlace(id), JSON.stringify(details));
    // Inside a write transaction (a write-out's group commit) the write lock is already held, and a
    // savepoint of its own would only cost two more statements.
    const append = this.#db.inTransaction ? this.#appendRow : this.#append.immediate;
    append({
      id,
      at: this.#clock.now().toISOString(),
      action: entry.action,
      outcome: entry.outcome,
      actor_id: entry.actor?.id ?? null,
      target_type: entry.target?.type ?? null,
      target_id: entry.target?.id ?? null,
      reason: entry.reason ?? null,
      details_sealed: sealed,
      details_digest: detailsDigest(sealed),
    });
    for (const observer of this.#observers) observer(entry);
  }

  /** Calls `observer` with every entry once it is written (metrics count sign-ins this way). */
  observe(observer: (entry: AuditEntry) => void): void {
    this.#observers.push(observer);
  }

  /**
   * A routine refusal that may repeat (a bogus token, a failed sign-in): the first of its kind from
   * one source in a window is recorded in full, the rest only counted. Returns the count so far.
   */
  recordRepeated(entry: AuditEntry & { reason: string }, windowMs?: number): number {
    const count = this.count({ action: entry.action, reason: entry.reason, source: entry.source }, windowMs);
    if (count === 1) this.record({ ...entry, details: { ...entry.details, repeats_counted_per_window_ms: windowMs ?? this.#counts.defaultWindowMs } });
    return count;
  }

  /** Counts one occurrence of (action, reason, source) in the current window; returns the count so far. */
  count(key: RefusalKey, windowMs?: number): number {
    return this.#counts.add(key, this.#clock.now(), windowMs);
  }

  /** The counted refusals of the windows that started at or after `since`, most frequent first. */
  counts(since: Date, limit = 200): RefusalCount[] {
    return this.#counts.since(since, limit);
  }

  /** The newest link of the chain. */
  head(): AuditHead {
    const tip = this.#tip();
    return { seq: tip.seq, hash: tip.hash.toString('hex'), at: tip.at };
  }

  /** Records the head as an anchor (`periodic`, `backup`, …), so a later truncation of the tail is found. */
  recordHead(reason: string): AuditHead {
    const head = this.head();
    this.#insertAnchor({ kind: 'head', seq: head.seq, hash: Buffer.from(head.hash, 'hex'), reason, recorded_at: this.#clock.now().toISOString() });
    return head;
  }

  /**
   * Retention: removes the entries written before `before`. A start anchor is recorded first (the
   * first kept seq and the hash of the last removed entry), so the kept chain still verifies. Refuses
   * when the chain does not verify: removing entries must never erase the evidence of tampering.
   */
  prune(before: Date): number {
    const report = this.verify();
    if (!report.ok) throw new AuditChainError(`the audit log does not verify (${report.problem!.message}); nothing was removed`);
    const tip = this.#tip();
    const cut = this.#sql.firstAtOrAfter.get(before.toISOString())?.seq ?? tip.seq + 1;
    const first = this.#sql.firstSeq.get()?.seq;
    if (first === null || first === undefined || cut <= first) return 0;
    const lastRemoved = cut - 1 === tip.seq ? tip.hash : this.#sql.bySeq.get(cut - 1)?.hash;
    if (!lastRemoved) throw new AuditChainError(`entry #${cut - 1} is missing; nothing was removed`);
    this.#insertAnchor({ kind: 'start', seq: cut, hash: lastRemoved, reason: 'prune', recorded_at: this.#clock.now().toISOString() });
    // Deleted in small transactions (oldest first) so the server keeps writing meanwhile.
    let removed = 0;
    for (let upTo = first + pruneBatch; ; upTo += pruneBatch) {
      removed += this.#sql.deleteBefore.run(cut, upTo).changes;
      if (upTo >= cut) break;
    }
    this.#counts.pruneBefore(before);
    return removed;
  }

  /** Walks the whole chain; names the first altered, removed or reordered entry, or a truncated tail. */
  verify(): ChainReport {
    return verifyChain(this.#source());
  }

  /** Whether a head taken from a log line or a backup manifest is on the stored chain. */
  hasHead(seq: number, hashHex: string): boolean {
    return headOnChain(this.#source(), seq, Buffer.from(hashHex, 'hex'));
  }

  /** Seals new entries under a fresh `audit` data key; older entries keep opening under theirs. */
  rotateKey(): string {
    return this.#keys.rotatePurpose('audit');
  }

  /**
   * Erase: the events the person did, and those about them or about `targetIds` (their invitations),
   * keep what happened and the ids but lose their sealed details (addresses, e-mails, sources). The
   * chain still holds: it covers the digest of the details, which stays.
   */
  forget(personId: string, targetIds: readonly string[] = []): void {
    this.#sql.forgetActor.run(personId);
    for (const id of [personId, ...targetIds]) this.#sql.forgetTarget.run(id);
  }

  /** The newest events since `since`, opened; for admins (and tests). */
  recent(since: Date, limit = 200): AuditEvent[] {
    return this.#sql.recent.all(since.toISOString(), limit).map((row) => this.#open(row));
  }

  /** The newest events the person did, opened; for their export. */
  byActor(personId: string, limit = 10_000): AuditEvent[] {
    return this.#sql.byActor.all(personId, limit).map((row) => this.#open(row));
  }

  /** The last link: the newest entry, else the start anchor's, else the genesis hash. */
  #tip(): { seq: number; hash: Buffer; at: string | null } {
    const last = this.#sql.last.get();
    if (last?.hash) return { seq: last.seq, hash: last.hash, at: last.at };
    const start = this.#sql.newestStart.get();
    return start ? { seq: start.seq - 1, hash: start.hash, at: null } : { seq: 0, hash: genesisHash, at: null };
  }

  #derived(keyId: string, info: string): Buffer {
    return Buffer.from(crypto.hkdfSync('sha256', this.#keys.get(keyId), Buffer.alloc(0), info, 32));
  }

  #sourceHash(source: string | undefined): Buffer {
    if (!source) return Buffer.alloc(0);
    return crypto.createHmac('sha256', this.#derived(this.#keys.current('audit'), 'modelshare audit source v1')).update(source).digest();
  }

  #insertAnchor(anchor: Anchor): void {
    const keyId = this.#keys.current('audit');
    const mac = anchorMac(this.#derived(keyId, 'modelshare audit anchor v1'), anchor);
    this.#sql.insertAnchor.run(anchor.kind, anchor.seq, anchor.hash, anchor.reason, anchor.recorded_at, keyId, mac);
  }

  #source(): ChainSource {
    return {
      entries: (fromSeq) => this.#sql.from.iterate(fromSeq),
      seqOfHash: (hash) => this.#sql.seqOfHash.get(hash)?.seq,
      anchors: (kind) =>
        this.#sql.anchors.all(kind).map((row) => {
          let valid = false;
          try {
            valid = crypto.timingSafeEqual(anchorMac(this.#derived(row.key_id, 'modelshare audit anchor v1'), row), row.mac);
          } catch {
            valid = false; // an unknown key id or a MAC of the wrong length
          }
          return { kind: row.kind, seq: row.seq, hash: row.hash, reason: row.reason, recorded_at: row.recorded_at, valid };
        }),
    };
  }

  /** Entries written before migration 0009 were numbered by it; they are chained here, once, in order. */
  #chainMigrated(): void {
    const rows = this.#sql.unchained.all();
    if (rows.length === 0) return;
    this.#db.transaction(() => {
      for (const row of rows) {
        const before = row.seq > 1 ? this.#sql.bySeq.get(row.seq - 1)?.hash : genesisHash;
        const prev = before ?? genesisHash;
        const digest = detailsDigest(row.details_sealed);
        this.#sql.chain.run(digest, prev, entryHash(prev, { ...row, details_digest: digest }), row.id);
      }
    }).immediate();
  }

  #open(row: AuditRow): AuditEvent {
    const details = row.details_sealed ? (JSON.parse(openText(this.#keys, detailsPlace(row.id), row.details_sealed)) as Record<string, unknown>) : {};
    const { actor_email, source, ...rest } = details as { actor_email?: string; source?: string };
    return {
      id: row.id,
      seq: row.seq,
      at: row.at,
      action: row.action,
      outcome: row.outcome,
      actor_id: row.actor_id,
      actor_email: actor_email ?? null,
      target: row.target_type && row.target_id ? { type: row.target_type, id: row.target_id } : undefined,
      reason: row.reason ?? undefined,
      source,
      details: rest,
    };
  }
}

export class AuditChainError extends Error {
  override name = 'AuditChainError';
}
