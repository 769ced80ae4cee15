-- Small blobs (most change packets) kept in the database instead of a file each: the same sealed
-- bytes a blob file would hold (header and STREAM segments, under the blob's own key, bound to its
-- id), written in the same transaction as the catalog row and the packet row, so one group commit's
-- fsync makes many write-outs durable. A blob has a row here or a file in the blob store, never both.
CREATE TABLE blob_inline (
  blob_id TEXT PRIMARY KEY REFERENCES blobs (id) ON DELETE CASCADE,
  sealed BLOB NOT NULL
) STRICT;
