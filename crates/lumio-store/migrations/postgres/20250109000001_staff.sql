-- Issue 22: staff operate the platform but do not enter extensions.
-- An extension is claimed once it has an owner: by a claim code, or (before claim codes
-- existed, or by a hand-over) by an owner token. Suspended extensions run no actions.
ALTER TABLE extensions ADD COLUMN claimed_at TIMESTAMPTZ;
ALTER TABLE extensions ADD COLUMN claimed_by TEXT;
ALTER TABLE extensions ADD COLUMN suspended_at TIMESTAMPTZ;

-- Existing extensions that already have an owner token count as claimed.
UPDATE extensions AS e SET claimed_at = t.created_at, claimed_by = t.id
FROM (SELECT DISTINCT ON (extension_id) extension_id, created_at, id FROM tokens
      WHERE role = 'owner' AND revoked_at IS NULL ORDER BY extension_id, created_at) AS t
WHERE t.extension_id = e.id;

-- One-time claim codes: only the SHA-256 of the code is kept.
CREATE TABLE extension_claims (
    code_hash    BYTEA PRIMARY KEY,
    extension_id BIGINT NOT NULL REFERENCES extensions (id) ON DELETE CASCADE,
    created_at   TIMESTAMPTZ NOT NULL,
    created_by   TEXT NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    used_at      TIMESTAMPTZ,
    used_by      TEXT
);
CREATE INDEX extension_claims_by_extension ON extension_claims (extension_id);

-- Support access: an admin asks, the owner approves, the grant ends at expires_at or on
-- revocation.
CREATE TABLE access_requests (
    id            TEXT PRIMARY KEY,
    extension_id  BIGINT NOT NULL REFERENCES extensions (id) ON DELETE CASCADE,
    token_id      TEXT NOT NULL,
    staff         TEXT NOT NULL,
    reason        TEXT NOT NULL,
    duration_secs BIGINT NOT NULL CHECK (duration_secs > 0),
    created_at    TIMESTAMPTZ NOT NULL,
    approved_at   TIMESTAMPTZ,
    approved_by   TEXT,
    expires_at    TIMESTAMPTZ,
    revoked_at    TIMESTAMPTZ,
    revoked_by    TEXT
);
CREATE INDEX access_requests_by_extension ON access_requests (extension_id, created_at);
CREATE INDEX access_requests_by_token ON access_requests (token_id);
