-- Deployed action code per extension and environment. Source only, never secrets.
CREATE TABLE ext_deployments (
    extension_id INTEGER NOT NULL REFERENCES extensions (id),
    environment  TEXT NOT NULL CHECK (environment IN ('staging', 'production')),
    version      INTEGER NOT NULL CHECK (version > 0),
    files        TEXT NOT NULL,
    actions      TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    created_by   TEXT NOT NULL,
    PRIMARY KEY (extension_id, environment, version)
) STRICT;
