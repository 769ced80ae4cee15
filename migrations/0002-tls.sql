-- TLS. The internal certificate authority of managed mode (one row) and the server certificates the
-- server keeps. Every private key is sealed (AES-256-GCM) under the 'tls' data key, bound to its
-- table, column and row, so neither the database file nor a backup holds a key in plaintext.
CREATE TABLE tls_authority (
  id TEXT PRIMARY KEY,               -- random; the sealed key is bound to it
  certificate TEXT NOT NULL,         -- PEM, self-signed
  key_sealed BLOB NOT NULL,          -- sealed PKCS#8 DER of the CA key
  fingerprint TEXT NOT NULL,         -- SHA-256 of the certificate, colon hex, for pinning
  created_at TEXT NOT NULL
) STRICT;

-- One row per slot: 'managed' (issued by the internal CA, replaced on renewal), 'csr-pending' (a key
-- and request made by `modelshare certs csr`, waiting for the corporate CA) and 'csr' (that key with
-- the chain `modelshare certs import` checked and installed).
CREATE TABLE tls_certificates (
  id TEXT PRIMARY KEY,               -- random; the sealed key is bound to it, so a row keeps it across slots
  slot TEXT NOT NULL UNIQUE,
  key_sealed BLOB NOT NULL,          -- sealed PKCS#8 DER
  request TEXT,                      -- PEM certificate signing request (csr slots)
  chain TEXT,                        -- PEM chain, server certificate first; NULL while waiting for signature
  names TEXT NOT NULL,               -- JSON {dns, ips} the certificate was made for
  not_after TEXT,
  created_at TEXT NOT NULL
) STRICT;
