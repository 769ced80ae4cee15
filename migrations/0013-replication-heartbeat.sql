-- The replication heartbeat: one row the server updates every replication.heartbeat, so that
-- Litestream always has a recent change to ship and a broken target shows as growing lag even while
-- nobody writes. It holds a counter and a time, nothing else.
CREATE TABLE replication_heartbeat (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  beat INTEGER NOT NULL,
  at TEXT NOT NULL
) STRICT;
