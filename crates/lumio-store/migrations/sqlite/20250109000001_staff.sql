-- Issue 22: staff operate the platform but do not enter extensions. Same meaning as
-- migrations/postgres; timestamps are INTEGER microseconds.
ALTER TABLE extensions ADD COLUMN claimed_at INTEGER;
ALTER TABLE extensions ADD COLUMN claimed_by TEXT;
ALTER TABLE extensions ADD COLUMN suspended_at INTEGER;

-- Existing extensions that already have an owner token count as claimed.
UPDATE extensions SET
    claimed_at = (SELECT min(created_at) FROM tokens
                  WHERE tokens.extension_id = extensions.id AND role = 'owner' AND revoked_at IS NULL),
    claimed_by = (SELECT id FROM tokens
                  WHERE tokens.extension_id = extensions.id AND role = 'owner' AND revoked_at IS NULL
                  ORDER BY created_at LIMIT 1);

CREATE TABLE extension_claims (
    code_hash    BLOB PRIMARY KEY,
    extension_id INTEGER NOT NULL REFERENCES extensions (id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    created_by   TEXT NOT NULL,
    expires_at   INTEGER NOT NULL,
    used_at      INTEGER,
    used_by      TEXT
) STRICT;
CREATE INDEX extension_claims_by_extension ON extension_claims (extension_id);

CREATE TABLE access_requests (
    id            TEXT PRIMARY KEY,
    extension_id  INTEGER NOT NULL REFERENCES extensions (id) ON DELETE CASCADE,
    token_id      TEXT NOT NULL,
    staff         TEXT NOT NULL,
    reason        TEXT NOT NULL,
    duration_secs INTEGER NOT NULL CHECK (duration_secs > 0),
    created_at    INTEGER NOT NULL,
    approved_at   INTEGER,
    approved_by   TEXT,
    expires_at    INTEGER,
    revoked_at    INTEGER,
    revoked_by    TEXT
) STRICT;
CREATE INDEX access_requests_by_extension ON access_requests (extension_id, created_at);
CREATE INDEX access_requests_by_token ON access_requests (token_id);
