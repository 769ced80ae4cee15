-- Organizations, their members, seats and sharing switches, blocked addresses, invitations to join,
-- and the personal profile of each person. Names, domains, addresses and profile fields are sealed;
-- where one must be found by equality (an address, a domain) a keyed blind index stands beside it.

CREATE TABLE organizations (
  id TEXT PRIMARY KEY,
  config_id TEXT UNIQUE,                    -- the id given in the config file; NULL when made through the admin API
  settings_sealed BLOB NOT NULL,            -- {name, domains, admin_groups}
  seats INTEGER NOT NULL CHECK (seats >= 0),
  sharing_enabled INTEGER NOT NULL DEFAULT 1,  -- the organization-wide switch
  reverify_after TEXT,                      -- the switch was turned back on then: members sign in again first
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
) STRICT;

CREATE TABLE memberships (
  organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  person_id TEXT NOT NULL REFERENCES people (id) ON DELETE CASCADE,
  role TEXT NOT NULL CHECK (role IN ('admin', 'member', 'partner')),
  source TEXT NOT NULL CHECK (source IN ('claims', 'invitation', 'admin')),  -- claims are re-read at each sign-in
  sharing_enabled INTEGER NOT NULL DEFAULT 0,  -- 1 holds one of the organization's seats
  reverify_after TEXT,                      -- sharing was turned back on then: the person signs in again first
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (organization_id, person_id)
) STRICT;
CREATE INDEX memberships_by_person ON memberships (person_id);

-- An address or a whole domain (and its subdomains) an organization refuses. A lifted block stays as
-- a row with lifted_at, so that the people it covered must sign in again before they share.
CREATE TABLE blocked_addresses (
  id TEXT PRIMARY KEY,
  organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  kind TEXT NOT NULL CHECK (kind IN ('address', 'domain')),
  value_index BLOB NOT NULL,                -- blind index orgs.blocked of kind + value
  value_sealed BLOB NOT NULL,
  created_by TEXT,
  created_at TEXT NOT NULL,
  lifted_at TEXT,
  UNIQUE (organization_id, value_index)
) STRICT;

CREATE TABLE organization_invitations (
  id TEXT PRIMARY KEY,
  organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  email_index BLOB NOT NULL,                -- blind index people.email of the invited address
  email_sealed BLOB NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('partner')),
  invited_by TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'accepted', 'declined', 'revoked')),
  created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  decided_at TEXT
) STRICT;
CREATE INDEX organization_invitations_by_email ON organization_invitations (email_index, status);
CREATE INDEX organization_invitations_by_sender ON organization_invitations (invited_by, created_at);
CREATE INDEX organization_invitations_by_organization ON organization_invitations (organization_id, status);

-- What a person tells about themselves beyond the provider's claims, sealed as one value.
CREATE TABLE profiles (
  person_id TEXT PRIMARY KEY REFERENCES people (id) ON DELETE CASCADE,
  fields_sealed BLOB NOT NULL,              -- {first_name, last_name, display_name, country, …}
  picture_sealed BLOB,                      -- {type, data}
  updated_at TEXT NOT NULL
) STRICT;

-- An erased person stays as a row without personal data, so packets keep their author.
ALTER TABLE people ADD COLUMN erased_at TEXT;

-- Erase forgets the details of audit events about a person, found by target.
CREATE INDEX audit_by_target ON audit_events (target_id);
