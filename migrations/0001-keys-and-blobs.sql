-- Data keys: one per model, one for personal data, one for the TLS CA. Each is random, wrapped by a
-- master key with AES-256-GCM, and stored with the id of the master key that wraps it, so a master
-- key rotation re-wraps these rows and never touches a blob.
CREATE TABLE data_keys (
  id TEXT PRIMARY KEY,               -- 32 hex characters; also written into sealed values and blob headers
  purpose TEXT NOT NULL,             -- 'personal', 'model', 'tls', ...
  wrapped BLOB NOT NULL,             -- nonce ‖ ciphertext ‖ tag
  wrapping_key_id TEXT NOT NULL,     -- id of the master key that wraps it
  created_at TEXT NOT NULL,
  rewrapped_at TEXT
) STRICT;
CREATE INDEX data_keys_by_wrapping_key ON data_keys (wrapping_key_id);

-- The catalog of committed blobs. A blob file exists before its row; only a blob with a row is
-- visible, and files without one are swept.
CREATE TABLE blobs (
  id TEXT PRIMARY KEY,
  data_key_id TEXT NOT NULL REFERENCES data_keys (id),
  size INTEGER NOT NULL,             -- plaintext bytes
  sha256 BLOB NOT NULL,              -- of the plaintext, as Content-Digest reports it
  sha512 BLOB,                       -- when the uploader sent one
  created_at TEXT NOT NULL
) STRICT;
