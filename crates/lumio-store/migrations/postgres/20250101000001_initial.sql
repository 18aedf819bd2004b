-- Lumio schema, PostgreSQL. Same meaning as migrations/sqlite.
-- No foreign keys on the hot secret/audit tables: the service checks extension ids, and an
-- FK would take a KEY SHARE lock on the extension row for every write (multixact churn).

CREATE TABLE lumio_meta (
    key   TEXT PRIMARY KEY,
    value BYTEA NOT NULL
);

CREATE TABLE extensions (
    id         BIGSERIAL PRIMARY KEY,
    slug       TEXT NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL
);

-- Ciphertext only: `sealed` is opaque bytes made by lumio-crypto.
CREATE TABLE ext_secrets (
    extension_id BIGINT NOT NULL,
    environment  TEXT NOT NULL CHECK (environment IN ('staging', 'production')),
    name         TEXT NOT NULL,
    version      BIGINT NOT NULL CHECK (version > 0),
    sealed       BYTEA NOT NULL,
    kek_id       TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    created_by   TEXT NOT NULL,
    PRIMARY KEY (extension_id, environment, name, version)
);

-- One row per name ever set (until purged); current_version NULL means deleted.
CREATE TABLE ext_secret_heads (
    extension_id    BIGINT NOT NULL,
    environment     TEXT NOT NULL CHECK (environment IN ('staging', 'production')),
    name            TEXT NOT NULL,
    current_version BIGINT,
    latest_version  BIGINT NOT NULL CHECK (latest_version > 0),
    updated_at      TIMESTAMPTZ NOT NULL,
    updated_by      TEXT NOT NULL,
    PRIMARY KEY (extension_id, environment, name)
);

CREATE TABLE tokens (
    id           TEXT PRIMARY KEY,
    secret_hash  BYTEA NOT NULL,
    is_admin     BOOLEAN NOT NULL,
    extension_id BIGINT REFERENCES extensions (id),
    role         TEXT CHECK (role IN ('owner', 'developer', 'viewer')),
    label        TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    created_by   TEXT,
    CHECK (is_admin = (extension_id IS NULL) AND is_admin = (role IS NULL))
);

CREATE TABLE ext_audit_log (
    id           BIGSERIAL PRIMARY KEY,
    at           TIMESTAMPTZ NOT NULL,
    extension_id BIGINT NOT NULL,
    environment  TEXT,
    event        TEXT NOT NULL,
    secret_name  TEXT,
    actor        TEXT,
    action       TEXT,
    request_id   TEXT,
    outcome      TEXT,
    detail       TEXT
);

CREATE INDEX ext_audit_log_by_extension ON ext_audit_log (extension_id, id DESC);
