/**
 * The hash chain of the audit log, after AWS CloudTrail's log file integrity validation, kept simpler:
 * every entry carries the hash of the one before it and its own hash, which covers that previous hash,
 * its sequence number, its plain columns and the SHA-256 of its sealed details. Changing, removing or
 * reordering an entry breaks the chain there; cutting off the tail is found against a recorded head.
 *
 * Anchors are recorded (seq, hash) pairs: `head` (periodically, at each backup) and `start` (where the
 * kept chain begins after retention). Each carries an HMAC under a key derived from the `audit` data
 * key, so SQL alone can neither forge one nor rewrite the chain to match one.
 */
import crypto from 'node:crypto';

/** The hash before the first entry. */
export const genesisHash = Buffer.alloc(32);

/** The columns of an entry that its hash covers. */
export interface ChainedFields {
  seq: number;
  id: string;
  at: string;
  action: string;
  outcome: string;
  actor_id: string | null;
  target_type: string | null;
  target_id: string | null;
  reason: string | null;
  /** SHA-256 of the sealed details as written (kept when an erasure removes the details). */
  details_digest: Buffer | null;
}

export interface ChainedRow extends ChainedFields {
  prev_hash: Buffer | null;
  hash: Buffer | null;
  details_sealed: Buffer | null;
}

export function detailsDigest(sealed: Buffer | null): Buffer | null {
  return sealed ? crypto.createHash('sha256').update(sealed).digest() : null;
}

/** The entry's hash: SHA-256 over a version label, the previous hash and a JSON array of its fields (unambiguous). */
export function entryHash(prev: Buffer, f: ChainedFields): Buffer {
  const fields = [f.seq, f.id, f.at, f.action, f.outcome, f.actor_id, f.target_type, f.target_id, f.reason, f.details_digest?.toString('hex') ?? null];
  return crypto.createHash('sha256').update('modelshare audit chain v1\0').update(prev).update(JSON.stringify(fields)).digest();
}

export interface Anchor {
  kind: 'head' | 'start';
  seq: number;
  hash: Buffer;
  reason: string;
  recorded_at: string;
}

/** The MAC of an anchor under `macKey` (derived from an `audit` data key). */
export function anchorMac(macKey: Buffer, a: Anchor): Buffer {
  return crypto.createHmac('sha256', macKey).update(JSON.stringify(['modelshare audit anchor v1', a.kind, a.seq, a.hash.toString('hex'), a.reason, a.recorded_at])).digest();
}

export type ChainProblemKind = 'altered' | 'removed' | 'reordered' | 'truncated' | 'anchor_forged';

export interface ChainProblem {
  kind: ChainProblemKind;
  /** The sequence number where the chain breaks. */
  seq: number;
  /** The entry found there, when there is one. */
  id?: string | undefined;
  message: string;
}

export interface ChainReport {
  ok: boolean;
  /** Entries checked. */
  entries: number;
  /** Where the kept chain starts (1 unless retention removed older entries). */
  first_seq: number;
  last_seq: number;
  /** Entries whose sealed details were erased (a person's erasure); their hash still holds. */
  erased: number;
  /** The newest recorded head the chain was checked against. */
  head_checked: { seq: number; recorded_at: string } | null;
  problem: ChainProblem | null;
}

/** What the walk needs from storage, so the rule can be read apart from the SQL. */
export interface ChainSource {
  /** Entries in seq order, from `fromSeq` on. */
  entries(fromSeq: number): Iterable<ChainedRow>;
  /** The seq of the entry whose stored hash is `hash`, if one is stored. */
  seqOfHash(hash: Buffer): number | undefined;
  /** Anchors of a kind, newest first, with their MACs checked (`valid`). */
  anchors(kind: Anchor['kind']): (Anchor & { valid: boolean })[];
}

interface Break {
  row: ChainedRow;
  expectedSeq: number;
  prev: Buffer;
}

/**
 * Walks the chain from its start anchor and names the first altered, removed or reordered entry;
 * then checks the newest recorded head against what is stored (a shorter chain is a truncated tail).
 */
export function verifyChain(source: ChainSource): ChainReport {
  const start = source.anchors('start')[0];
  const report: ChainReport = { ok: true, entries: 0, first_seq: start?.seq ?? 1, last_seq: (start?.seq ?? 1) - 1, erased: 0, head_checked: null, problem: null };
  if (start && !start.valid) return fail(report, { kind: 'anchor_forged', seq: start.seq, message: `the start anchor at entry #${start.seq} does not carry a valid MAC` });
  let prev = start?.hash ?? genesisHash;
  let expectedSeq = report.first_seq;
  let broken: Break | undefined;
  // The walk only reads; a break is classified after it ends, since classifying queries again.
  for (const row of source.entries(report.first_seq)) {
    if (row.seq !== expectedSeq || !row.prev_hash || !row.prev_hash.equals(prev) || !selfConsistent(row)) {
      broken = { row, expectedSeq, prev };
      break;
    }
    if (!row.details_sealed && row.details_digest) report.erased += 1;
    report.entries += 1;
    report.last_seq = row.seq;
    prev = row.hash!;
    expectedSeq += 1;
  }
  if (broken) return fail(report, classify(source, broken));
  // A head recorded at or after the start anchor must still be in the chain, with the same hash.
  const heads = source.anchors('head').filter((h) => h.seq >= report.first_seq - 1);
  const head = heads[0];
  if (!head) return report;
  if (!head.valid) return fail(report, { kind: 'anchor_forged', seq: head.seq, message: `the head recorded at ${head.recorded_at} does not carry a valid MAC` });
  report.head_checked = { seq: head.seq, recorded_at: head.recorded_at };
  if (head.seq > report.last_seq) {
    return fail(report, {
      kind: 'truncated',
      seq: report.last_seq + 1,
      message: `entries #${report.last_seq + 1} to #${head.seq} are missing: the head recorded at ${head.recorded_at} was entry #${head.seq}, the log ends at #${report.last_seq}`,
    });
  }
  // The head is behind the end: its hash is that of the entry it names (checked again by seq).
  const atHead = head.seq === report.last_seq ? prev : head.seq === report.first_seq - 1 ? start!.hash : undefined;
  const stored = atHead ?? storedHash(source, head.seq);
  if (!stored || !stored.equals(head.hash)) {
    return fail(report, { kind: 'altered', seq: head.seq, message: `entry #${head.seq} is not the one the head recorded at ${head.recorded_at} names: the chain was rewritten from there or before` });
  }
  return report;
}

/** Whether an external head (from a log line or a backup manifest) is on the stored chain. */
export function headOnChain(source: ChainSource, seq: number, hash: Buffer): boolean {
  return storedHash(source, seq)?.equals(hash) ?? false;
}

function storedHash(source: ChainSource, seq: number): Buffer | undefined {
  for (const row of source.entries(seq)) return row.seq === seq && row.hash ? row.hash : undefined;
  return undefined;
}

function selfConsistent(row: ChainedRow): boolean {
  if (!row.hash || !row.prev_hash) return false;
  if (row.details_sealed && !detailsDigest(row.details_sealed)!.equals(row.details_digest ?? Buffer.alloc(0))) return false;
  if (row.details_sealed && !row.details_digest) return false;
  return entryHash(row.prev_hash, row).equals(row.hash);
}

function classify(source: ChainSource, b: Break): ChainProblem {
  const { row, expectedSeq, prev } = b;
  if (row.seq > expectedSeq) {
    return { kind: 'removed', seq: expectedSeq, id: row.id, message: `entry #${expectedSeq} is missing: the chain jumps from #${expectedSeq - 1} to #${row.seq} (${row.id})` };
  }
  if (row.prev_hash?.equals(prev)) {
    return { kind: 'altered', seq: row.seq, id: row.id, message: `entry #${row.seq} (${row.id}) was altered: its content no longer matches its hash` };
  }
  // The link to the entry before is broken. If the hash it names is stored elsewhere, the entry was moved.
  const linkedSeq = row.prev_hash ? source.seqOfHash(row.prev_hash) : undefined;
  if (linkedSeq !== undefined && linkedSeq !== row.seq - 1) {
    return { kind: 'reordered', seq: row.seq, id: row.id, message: `entry #${row.seq} (${row.id}) is out of order: it was written after entry #${linkedSeq}` };
  }
  return { kind: 'removed', seq: row.seq, id: row.id, message: `an entry before #${row.seq} (${row.id}) was removed: it no longer links to entry #${row.seq - 1}` };
}

function fail(report: ChainReport, problem: ChainProblem): ChainReport {
  return { ...report, ok: false, problem };
}
