-- The admin API: a server-wide block of a person, per-model statistics kept by triggers (so that
-- the admin model lists can sort and page by size and activity without summing blobs per request),
-- and the indexes that let admins page through the audit log by keyset.

-- A person blocked by a server admin: refused at sign-in and on every token and session.
ALTER TABLE people ADD COLUMN blocked_at TEXT;
ALTER TABLE people ADD COLUMN blocked_by TEXT;

-- One row per model, kept by the triggers below in the same transaction as the rows they count.
CREATE TABLE model_stats (
  model_id TEXT PRIMARY KEY REFERENCES models (id) ON DELETE CASCADE,
  bytes INTEGER NOT NULL DEFAULT 0,         -- plaintext bytes of the blobs of its packets and baselines
  packets INTEGER NOT NULL DEFAULT 0,       -- packet rows (pruned ones included: they keep their number)
  members INTEGER NOT NULL DEFAULT 0,
  last_activity_at TEXT NOT NULL            -- the newest packet or baseline, else the model's creation
) STRICT;
CREATE INDEX model_stats_by_bytes ON model_stats (bytes, model_id);
CREATE INDEX model_stats_by_activity ON model_stats (last_activity_at, model_id);
CREATE INDEX models_by_organization_created ON models (organization_id, created_at, id);
CREATE INDEX models_by_created ON models (created_at, id);
-- Covering indexes for searching and sorting by the sealed name, which the server opens (see
-- sharing/admin-list.ts): reading them is far cheaper than reading every row of the table.
CREATE INDEX models_names_by_organization ON models (organization_id, id, updated_at, deleted_at, name_sealed);
CREATE INDEX models_names ON models (id, updated_at, deleted_at, name_sealed);

INSERT INTO model_stats (model_id, bytes, packets, members, last_activity_at)
SELECT m.id,
  coalesce((SELECT sum(b.size) FROM packets p JOIN blobs b ON b.id = p.blob_id WHERE p.model_id = m.id), 0)
    + coalesce((SELECT sum(b.size) FROM baselines x JOIN blobs b ON b.id = x.blob_id WHERE x.model_id = m.id), 0),
  (SELECT count(*) FROM packets WHERE model_id = m.id),
  (SELECT count(*) FROM model_members WHERE model_id = m.id),
  max(m.created_at, coalesce((SELECT max(created_at) FROM packets WHERE model_id = m.id), ''), coalesce((SELECT max(created_at) FROM baselines WHERE model_id = m.id), ''))
FROM models m;

CREATE TRIGGER model_stats_model_insert AFTER INSERT ON models BEGIN
  INSERT INTO model_stats (model_id, last_activity_at) VALUES (NEW.id, NEW.created_at);
END;

CREATE TRIGGER model_stats_packet_insert AFTER INSERT ON packets BEGIN
  UPDATE model_stats SET packets = packets + 1,
    bytes = bytes + coalesce((SELECT size FROM blobs WHERE id = NEW.blob_id), 0),
    last_activity_at = max(last_activity_at, NEW.created_at)
  WHERE model_id = NEW.model_id;
END;
CREATE TRIGGER model_stats_packet_blob AFTER UPDATE OF blob_id ON packets BEGIN
  UPDATE model_stats SET bytes = bytes - coalesce((SELECT size FROM blobs WHERE id = OLD.blob_id), 0) + coalesce((SELECT size FROM blobs WHERE id = NEW.blob_id), 0)
  WHERE model_id = NEW.model_id;
END;
CREATE TRIGGER model_stats_packet_delete AFTER DELETE ON packets BEGIN
  UPDATE model_stats SET packets = packets - 1, bytes = bytes - coalesce((SELECT size FROM blobs WHERE id = OLD.blob_id), 0)
  WHERE model_id = OLD.model_id;
END;

CREATE TRIGGER model_stats_baseline_insert AFTER INSERT ON baselines BEGIN
  UPDATE model_stats SET bytes = bytes + coalesce((SELECT size FROM blobs WHERE id = NEW.blob_id), 0),
    last_activity_at = max(last_activity_at, NEW.created_at)
  WHERE model_id = NEW.model_id;
END;
CREATE TRIGGER model_stats_baseline_blob AFTER UPDATE OF blob_id ON baselines BEGIN
  UPDATE model_stats SET bytes = bytes - coalesce((SELECT size FROM blobs WHERE id = OLD.blob_id), 0) + coalesce((SELECT size FROM blobs WHERE id = NEW.blob_id), 0)
  WHERE model_id = NEW.model_id;
END;
CREATE TRIGGER model_stats_baseline_delete AFTER DELETE ON baselines BEGIN
  UPDATE model_stats SET bytes = bytes - coalesce((SELECT size FROM blobs WHERE id = OLD.blob_id), 0) WHERE model_id = OLD.model_id;
END;

-- An upsert that updates a role fires no INSERT trigger, so a member is counted once.
CREATE TRIGGER model_stats_member_insert AFTER INSERT ON model_members BEGIN
  UPDATE model_stats SET members = members + 1 WHERE model_id = NEW.model_id;
END;
CREATE TRIGGER model_stats_member_delete AFTER DELETE ON model_members BEGIN
  UPDATE model_stats SET members = members - 1 WHERE model_id = OLD.model_id;
END;

-- The audit log, newest first by (at, id), by keyset: through everything, by actor, action or target.
CREATE INDEX audit_by_at_id ON audit_events (at, id);
CREATE INDEX audit_by_actor_at_id ON audit_events (actor_id, at, id);
CREATE INDEX audit_by_action_at_id ON audit_events (action, at, id);
CREATE INDEX audit_by_target_at_id ON audit_events (target_id, at, id);
