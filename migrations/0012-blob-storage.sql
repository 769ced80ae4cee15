-- Where the blobs are. `current` is the backend every blob is on; while `modelshare blobs migrate`
-- runs, `target` names the backend it moves them to: new blobs are written there, reads look there
-- first and fall back to `current`, and the switch (target becomes current) is one transaction that
-- happens only when every catalogued blob is verified on the target. A running server reads this row
-- on every blob call, so it follows the switch without a restart.
CREATE TABLE blob_storage (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  current TEXT NOT NULL CHECK (current IN ('fs', 's3')),
  target TEXT CHECK (target IN ('fs', 's3')),
  started_at TEXT,
  switched_at TEXT
) STRICT;

-- The migration's progress record: blobs verified on the target (resumable: a restarted migration
-- skips them). Emptied by the switch.
CREATE TABLE blob_migration_done (
  blob_id TEXT PRIMARY KEY,
  verified_at TEXT NOT NULL
) STRICT;
