-- Lumio schema, SQLite. Same meaning as migrations/postgres.
-- Timestamps are INTEGER microseconds since the Unix epoch (PostgreSQL's precision).

CREATE TABLE lumio_meta (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
) STRICT;

CREATE TABLE extensions (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    slug       TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
) STRICT;

-- Ciphertext only: `sealed` is opaque bytes made by lumio-crypto.
CREATE TABLE ext_secrets (
    extension_id INTEGER NOT NULL,
    environment  TEXT NOT NULL CHECK (environment IN ('staging', 'production')),
    name         TEXT NOT NULL,
    version      INTEGER NOT NULL CHECK (version > 0),
    sealed       BLOB NOT NULL,
    kek_id       TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    created_by   TEXT NOT NULL,
    PRIMARY KEY (extension_id, environment, name, version)
) STRICT, WITHOUT ROWID;

-- One row per name ever set (until purged); current_version NULL means deleted.
CREATE TABLE ext_secret_heads (
    extension_id    INTEGER NOT NULL,
    environment     TEXT NOT NULL CHECK (environment IN ('staging', 'production')),
    name            TEXT NOT NULL,
    current_version INTEGER,
    latest_version  INTEGER NOT NULL CHECK (latest_version > 0),
    updated_at      INTEGER NOT NULL,
    updated_by      TEXT NOT NULL,
    PRIMARY KEY (extension_id, environment, name)
) STRICT, WITHOUT ROWID;

CREATE TABLE tokens (
    id           TEXT PRIMARY KEY,
    secret_hash  BLOB NOT NULL,
    is_admin     INTEGER NOT NULL CHECK (is_admin IN (0, 1)),
    extension_id INTEGER REFERENCES extensions (id),
    role         TEXT CHECK (role IN ('owner', 'developer', 'viewer')),
    label        TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    created_by   TEXT,
    CHECK (is_admin = (extension_id IS NULL) AND is_admin = (role IS NULL))
) STRICT;

-- AUTOINCREMENT so ids are never reused: readers page by id.
CREATE TABLE ext_audit_log (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    at           INTEGER NOT NULL,
    extension_id INTEGER NOT NULL,
    environment  TEXT,
    event        TEXT NOT NULL,
    secret_name  TEXT,
    actor        TEXT,
    action       TEXT,
    request_id   TEXT,
    outcome      TEXT,
    detail       TEXT
) STRICT;

CREATE INDEX ext_audit_log_by_extension ON ext_audit_log (extension_id, id DESC);
