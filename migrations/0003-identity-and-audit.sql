-- People, sign-in and the audit log. Every personal value is sealed (see src/crypto/sealed.ts);
-- where one must be found by equality (e-mail, provider identity) a keyed blind index stands beside it.
-- Tokens, codes and session ids are stored only as hashes.

CREATE TABLE people (
  id TEXT PRIMARY KEY,
  identity_index BLOB NOT NULL UNIQUE,      -- blind index of issuer + subject: who this is at the provider
  identity_sealed BLOB NOT NULL,            -- {issuer, subject}
  email_index BLOB,                         -- blind index of the lower-cased address
  email_sealed BLOB,
  email_verified INTEGER NOT NULL DEFAULT 0,
  name_sealed BLOB,
  server_admin INTEGER NOT NULL DEFAULT 0,  -- as decided at the last sign-in (config e-mails, provider groups)
  created_at TEXT NOT NULL,
  last_sign_in_at TEXT
) STRICT;
CREATE INDEX people_by_email ON people (email_index);

-- A browser sign-in in progress: single use, short-lived, bound to the browser that started it.
CREATE TABLE login_flows (
  id TEXT PRIMARY KEY,
  state_hash BLOB NOT NULL UNIQUE,
  browser_hash BLOB NOT NULL,               -- hash of the value of the login cookie
  provider TEXT NOT NULL,
  secrets_sealed BLOB NOT NULL,             -- {code_verifier, nonce}
  return_to TEXT NOT NULL,
  created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  used_at TEXT
) STRICT;

CREATE TABLE sessions (
  id TEXT PRIMARY KEY,
  token_hash BLOB NOT NULL UNIQUE,
  person_id TEXT NOT NULL REFERENCES people (id) ON DELETE CASCADE,
  provider TEXT NOT NULL,
  created_at TEXT NOT NULL,
  last_seen_at TEXT NOT NULL,
  expires_at TEXT NOT NULL                  -- the absolute end; the idle end follows last_seen_at
) STRICT;
CREATE INDEX sessions_by_person ON sessions (person_id);

-- Desktop sign-in (device authorization, RFC 8628).
CREATE TABLE device_requests (
  id TEXT PRIMARY KEY,
  device_code_hash BLOB NOT NULL UNIQUE,
  user_code_index BLOB NOT NULL UNIQUE,     -- keyed: user codes are short, a plain hash could be reversed
  client_name_sealed BLOB NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'consumed')),
  person_id TEXT REFERENCES people (id) ON DELETE CASCADE,
  interval_ms INTEGER NOT NULL,
  last_polled_at TEXT,
  created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL
) STRICT;

-- A desktop login: what one device approval started; its tokens all end when it is revoked.
CREATE TABLE logins (
  id TEXT PRIMARY KEY,
  person_id TEXT NOT NULL REFERENCES people (id) ON DELETE CASCADE,
  client_name_sealed BLOB NOT NULL,
  created_at TEXT NOT NULL,
  revoked_at TEXT,
  revoked_reason TEXT
) STRICT;
CREATE INDEX logins_by_person ON logins (person_id);

CREATE TABLE tokens (
  id TEXT PRIMARY KEY,                      -- public id, for listing and revoking
  hash BLOB NOT NULL UNIQUE,                -- SHA-256 of the token
  kind TEXT NOT NULL CHECK (kind IN ('access', 'refresh', 'personal', 'break_glass')),
  person_id TEXT NOT NULL REFERENCES people (id) ON DELETE CASCADE,
  login_id TEXT REFERENCES logins (id) ON DELETE CASCADE,
  name_sealed BLOB,                         -- personal access tokens: the name the owner gave it
  scopes TEXT NOT NULL,                     -- space-separated: read write admin
  created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  rotated_at TEXT,                          -- refresh tokens: when it was exchanged (a second use is reuse)
  last_used_at TEXT,
  revoked_at TEXT
) STRICT;
CREATE INDEX tokens_by_person ON tokens (person_id, kind);
CREATE INDEX tokens_by_login ON tokens (login_id);

-- Every security-relevant action, allowed, denied or failed. Who and from where are sealed.
CREATE TABLE audit_events (
  id TEXT PRIMARY KEY,
  at TEXT NOT NULL,
  action TEXT NOT NULL,                     -- e.g. auth.sign_in, auth.refresh_reuse, token.create
  outcome TEXT NOT NULL CHECK (outcome IN ('allowed', 'denied', 'failed')),
  actor_id TEXT,                            -- a person id, or NULL for anonymous and the command line
  target_type TEXT,
  target_id TEXT,
  reason TEXT,                              -- a stable code, never personal data
  details_sealed BLOB                       -- {actor_email, source, ...}
) STRICT;
CREATE INDEX audit_by_time ON audit_events (at);
CREATE INDEX audit_by_actor ON audit_events (actor_id, at);
