-- Issue 28: expiry and rotation notices sent. Same meaning as migrations/postgres.
CREATE TABLE ext_secret_notices (
    extension_id INTEGER NOT NULL,
    environment  TEXT NOT NULL,
    name         TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('expiry', 'rotation')),
    due_at       INTEGER NOT NULL,
    notice       TEXT NOT NULL,
    sent_at      INTEGER NOT NULL,
    PRIMARY KEY (extension_id, environment, name, kind, due_at, notice)
) STRICT;
