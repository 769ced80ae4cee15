-- Model administration: locks. A locked model refuses write-outs and new baselines from everyone but
-- its lock owner (when one is named); reads go on. The reason is sealed under the model's own key.
CREATE TABLE model_locks (
  model_id TEXT PRIMARY KEY REFERENCES models (id) ON DELETE CASCADE,
  locked_by TEXT NOT NULL,              -- the person who locked it
  lock_owner_id TEXT,                   -- the one person who may still write; NULL: nobody
  reason_sealed BLOB NOT NULL,
  locked_at TEXT NOT NULL
) STRICT;

-- Roll back without losing history. Sequence numbers are never reused: a rollback to point T (of a
-- model at head H) adds a marker packet H+1 (no bytes, `rolled_back_to` = T) with a baseline as of
-- H+1 whose bytes equal the state at T (copies of the blobs it is made of, then copies of the packets
-- between that baseline and T, numbered H+2 …). The abandoned packets and baselines stay where they
-- are, tagged with the closed branch they now belong to; they can be listed, downloaded and restored.
CREATE TABLE model_branches (
  id TEXT PRIMARY KEY,
  model_id TEXT NOT NULL REFERENCES models (id) ON DELETE CASCADE,
  rolled_back_to INTEGER NOT NULL,      -- the point the model was returned to
  tip INTEGER NOT NULL,                 -- the head the model had: the newest packet of the branch
  marker INTEGER NOT NULL,              -- the marker packet where the line continued
  base_seq INTEGER NOT NULL,            -- the baseline the state at rolled_back_to was rebuilt from (kept from pruning)
  created_by TEXT NOT NULL,
  created_at TEXT NOT NULL,
  restored_at TEXT,                     -- when the line was returned to this branch's tip (by a later rollback)
  restored_by TEXT
) STRICT;
CREATE INDEX model_branches_by_model ON model_branches (model_id, created_at);

ALTER TABLE packets ADD COLUMN branch_id TEXT;        -- set: off the model's line, on this closed branch
ALTER TABLE packets ADD COLUMN rolled_back_to INTEGER; -- set on a rollback's marker packet
ALTER TABLE baselines ADD COLUMN branch_id TEXT;
