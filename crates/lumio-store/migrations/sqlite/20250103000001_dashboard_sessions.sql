-- Dashboard sign-ins. The browser's cookie holds a random id; only its SHA-256 is stored,
-- so reading this table lets nobody sign in. Times are microseconds since the Unix epoch.
CREATE TABLE dashboard_sessions (
    id_hash    BLOB PRIMARY KEY,
    token_id   TEXT NOT NULL,
    csrf       TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    flash      TEXT
) STRICT, WITHOUT ROWID;
CREATE INDEX dashboard_sessions_by_expiry ON dashboard_sessions (expires_at);
