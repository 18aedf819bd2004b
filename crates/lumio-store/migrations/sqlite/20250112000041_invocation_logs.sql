-- Action invocation logs for `lumio logs`. Console text is masked by the runtime before
-- it gets here; reads are names and outcomes only. `tx` is always 0 here: SQLite has one
-- writer, so ids become visible in order and the id alone is the position.
CREATE TABLE ext_invocation_logs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    tx           INTEGER NOT NULL DEFAULT 0,
    extension_id INTEGER NOT NULL,
    environment  TEXT NOT NULL,
    at           INTEGER NOT NULL,
    action       TEXT NOT NULL,
    request_id   TEXT NOT NULL,
    outcome      TEXT NOT NULL,
    duration_ms  REAL NOT NULL,
    console      TEXT NOT NULL,
    error        TEXT,
    reads        TEXT NOT NULL
) STRICT;
CREATE INDEX ext_invocation_logs_position ON ext_invocation_logs (extension_id, environment, tx, id);
CREATE INDEX ext_invocation_logs_at ON ext_invocation_logs (at);
