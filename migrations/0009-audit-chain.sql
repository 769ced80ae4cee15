-- The audit log becomes append-only and hash-chained (see src/audit/chain.ts): every entry gets a
-- sequence number, the hash of the entry before it and its own hash, which covers its plain columns
-- and the SHA-256 of its sealed details. Entries written before this migration are numbered here in
-- the order they were written and chained by the server at its next start.
ALTER TABLE audit_events ADD COLUMN seq INTEGER;
ALTER TABLE audit_events ADD COLUMN details_digest BLOB;  -- SHA-256 of details_sealed as written
ALTER TABLE audit_events ADD COLUMN prev_hash BLOB;       -- the hash of entry seq - 1 (or of the start anchor)
ALTER TABLE audit_events ADD COLUMN hash BLOB;            -- NULL only until the server chains a migrated entry

UPDATE audit_events SET seq = numbered.n
  FROM (SELECT id, row_number() OVER (ORDER BY at, id) AS n FROM audit_events) AS numbered
  WHERE numbered.id = audit_events.id;
CREATE UNIQUE INDEX audit_by_seq ON audit_events (seq);

-- Anchors: a `head` is the newest entry's (seq, hash) as recorded periodically and at each backup, so
-- a truncated tail is found; a `start` is where the kept chain begins after retention removed older
-- entries (seq of the first kept entry, hash of the last removed one). Each is authenticated with an
-- HMAC under a key derived from the `audit` data key, so one cannot be forged with SQL alone.
CREATE TABLE audit_anchors (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL CHECK (kind IN ('head', 'start')),
  seq INTEGER NOT NULL,
  hash BLOB NOT NULL,
  reason TEXT NOT NULL,                     -- periodic, backup, prune, verify, command
  recorded_at TEXT NOT NULL,
  key_id TEXT NOT NULL,                     -- the data key the MAC key is derived from
  mac BLOB NOT NULL
) STRICT;
CREATE INDEX audit_anchors_by_kind ON audit_anchors (kind, seq);

-- Routine refusals repeated from one source are counted per window instead of written one row each.
CREATE TABLE audit_counts (
  action TEXT NOT NULL,
  reason TEXT NOT NULL,
  source_hash BLOB NOT NULL,                -- keyed hash of the client address (personal data): groups, reveals nothing
  window_start TEXT NOT NULL,
  count INTEGER NOT NULL,
  first_at TEXT NOT NULL,
  last_at TEXT NOT NULL,
  PRIMARY KEY (action, reason, source_hash, window_start)
) STRICT, WITHOUT ROWID;
CREATE INDEX audit_counts_by_window ON audit_counts (window_start);

-- Append-only, enforced by the database too, so no code path can change history by mistake. An entry
-- may be changed in two ways only: chained once (hash NULL before), or its sealed details erased
-- (a person's erasure) with every other column, the digest included, left as it was.
CREATE TRIGGER audit_events_append_only BEFORE UPDATE ON audit_events
WHEN OLD.hash IS NOT NULL AND NOT (
  NEW.details_sealed IS NULL AND NEW.id = OLD.id AND NEW.seq IS OLD.seq AND NEW.at = OLD.at
  AND NEW.action = OLD.action AND NEW.outcome = OLD.outcome AND NEW.actor_id IS OLD.actor_id
  AND NEW.target_type IS OLD.target_type AND NEW.target_id IS OLD.target_id AND NEW.reason IS OLD.reason
  AND NEW.details_digest IS OLD.details_digest AND NEW.prev_hash IS OLD.prev_hash AND NEW.hash IS OLD.hash
)
BEGIN
  SELECT RAISE(ABORT, 'audit_events is append-only');
END;

-- Only retention deletes, and only entries before the newest start anchor (written first).
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
WHEN OLD.seq >= coalesce((SELECT max(seq) FROM audit_anchors WHERE kind = 'start'), 1)
BEGIN
  SELECT RAISE(ABORT, 'audit_events is append-only; retention removes entries before a start anchor only');
END;

CREATE TRIGGER audit_anchors_no_update BEFORE UPDATE ON audit_anchors
BEGIN
  SELECT RAISE(ABORT, 'audit_anchors is append-only');
END;

CREATE TRIGGER audit_anchors_no_delete BEFORE DELETE ON audit_anchors
BEGIN
  SELECT RAISE(ABORT, 'audit_anchors is append-only');
END;
