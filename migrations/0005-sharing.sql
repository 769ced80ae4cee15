-- Model sharing: models with their own data key, members with roles, baselines and the append-only
-- log of change packets, invitations, and the event log behind the notification streams. Names,
-- descriptions, comments and invited addresses are sealed; bytes live in the blob store.

CREATE TABLE models (
  id TEXT PRIMARY KEY,
  organization_id TEXT,                 -- NULL: outside any organization
  data_key_id TEXT NOT NULL REFERENCES data_keys (id),
  name_sealed BLOB NOT NULL,
  description_sealed BLOB,
  owner_id TEXT NOT NULL REFERENCES people (id),
  head INTEGER NOT NULL DEFAULT 0,      -- the newest packet's seq; 0 before any packet
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  deleted_at TEXT,                      -- soft delete: restorable until retention purges it
  deleted_by TEXT
) STRICT;
CREATE INDEX models_by_organization ON models (organization_id);

CREATE TABLE model_members (
  model_id TEXT NOT NULL REFERENCES models (id) ON DELETE CASCADE,
  person_id TEXT NOT NULL REFERENCES people (id) ON DELETE CASCADE,
  role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'editor', 'viewer')),
  added_at TEXT NOT NULL,
  PRIMARY KEY (model_id, person_id)
) STRICT;
CREATE INDEX model_members_by_person ON model_members (person_id);

CREATE TABLE baselines (
  model_id TEXT NOT NULL REFERENCES models (id) ON DELETE CASCADE,
  seq INTEGER NOT NULL,                 -- the packet number the snapshot is as of
  blob_id TEXT NOT NULL REFERENCES blobs (id),
  author_id TEXT NOT NULL,
  created_at TEXT NOT NULL,
  PRIMARY KEY (model_id, seq)
) STRICT;

CREATE TABLE packets (
  model_id TEXT NOT NULL REFERENCES models (id) ON DELETE CASCADE,
  seq INTEGER NOT NULL,                 -- 1, 2, 3 … with no gaps
  blob_id TEXT REFERENCES blobs (id),   -- NULL once the history retention pruned it
  author_id TEXT NOT NULL,
  comment_sealed BLOB,
  idempotency_key TEXT,                 -- the writer's Idempotency-Key, so a retry finds its packet
  created_at TEXT NOT NULL,
  pruned_at TEXT,
  PRIMARY KEY (model_id, seq)
) STRICT;
CREATE UNIQUE INDEX packets_by_idempotency_key ON packets (model_id, author_id, idempotency_key) WHERE idempotency_key IS NOT NULL;

CREATE TABLE model_invitations (
  id TEXT PRIMARY KEY,
  model_id TEXT NOT NULL REFERENCES models (id) ON DELETE CASCADE,
  email_index BLOB NOT NULL,            -- blind index people.email of the invited address
  email_sealed BLOB NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('admin', 'editor', 'viewer')),
  invited_by TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'accepted', 'declined', 'revoked')),
  created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL
) STRICT;
CREATE INDEX model_invitations_by_email ON model_invitations (email_index, status);
CREATE INDEX model_invitations_by_inviter ON model_invitations (invited_by, created_at);

-- What the notification streams send, in order; a client that reconnects with Last-Event-ID gets
-- what it missed from here. Payloads hold ids and numbers only, never names.
CREATE TABLE model_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  model_id TEXT NOT NULL,
  type TEXT NOT NULL CHECK (type IN ('packet', 'baseline', 'membership', 'model')),
  person_id TEXT,                       -- membership events: the person concerned, who gets it even when removed
  data TEXT NOT NULL,                   -- JSON
  created_at TEXT NOT NULL
) STRICT;
CREATE INDEX model_events_by_model ON model_events (model_id, id);
