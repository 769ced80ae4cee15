-- The provider's refresh token from a person's last browser sign-in, per provider (when the provider
-- issues one: `offline_access`). A refresh of our own tokens uses it, at most every
-- `auth.provider_recheck`, to ask the provider whether it still vouches for the person, and who they
-- are now (claims decide organization membership). Sealed under the personal data key; one row per
-- person and provider, replaced at each sign-in and each rotation.
CREATE TABLE provider_grants (
  person_id TEXT NOT NULL REFERENCES people (id) ON DELETE CASCADE,
  provider TEXT NOT NULL,
  refresh_sealed BLOB NOT NULL,
  subject_sealed BLOB NOT NULL,          -- the provider's subject, to check the refreshed ID token against
  checked_at TEXT NOT NULL,              -- when the provider last vouched (sign-in or refresh)
  PRIMARY KEY (person_id, provider)
) STRICT;

-- The e-mail digest of notices to organization admins (job notice-digest): what each organization's
-- last digest run saw, as keys of the notices (kind and ids, no names or addresses), so a digest goes
-- out only when a notice is new since then.
CREATE TABLE notice_digests (
  organization_id TEXT PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
  seen_keys TEXT NOT NULL,               -- JSON array of notice keys
  checked_at TEXT NOT NULL,
  sent_at TEXT                           -- the last digest that went out
) STRICT;
