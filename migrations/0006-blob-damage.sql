-- Blobs whose stored bytes were found damaged (a segment that does not authenticate, a file shorter
-- than its catalog row, a missing file). A damaged blob is answered with a problem document before a
-- byte is sent; `modelshare blobs verify` re-checks every blob and clears the mark of one restored.
CREATE TABLE blob_damage (
  blob_id TEXT PRIMARY KEY REFERENCES blobs (id) ON DELETE CASCADE,
  reason TEXT NOT NULL,              -- 'unauthentic', 'truncated', 'missing', 'digest_mismatch'
  detected_at TEXT NOT NULL
) STRICT;
