-- Dashboard sign-ins, shared by every server on the database. The browser's cookie holds
-- a random id; only its SHA-256 is stored, so reading this table lets nobody sign in.
-- Times are microseconds since the Unix epoch, as on SQLite, so both share one SQL text.
CREATE TABLE dashboard_sessions (
    id_hash    BYTEA PRIMARY KEY,
    token_id   TEXT NOT NULL,
    csrf       TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    flash      TEXT
);
CREATE INDEX dashboard_sessions_by_expiry ON dashboard_sessions (expires_at);
