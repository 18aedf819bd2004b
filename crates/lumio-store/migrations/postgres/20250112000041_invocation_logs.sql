-- Action invocation logs for `lumio logs`, written in batches by every server. Console
-- text is masked by the runtime before it gets here; reads are names and outcomes only.
-- `tx` is the inserting transaction's id: a follower reads only rows whose transaction
-- is older than every one still in progress, in (tx, id) order, so a batch committed
-- late with smaller ids is never skipped (see `logs.rs`). No foreign key: a batch must
-- not fail because an extension was deleted meanwhile (its rows go with it, and retention
-- removes any stragglers).
CREATE TABLE ext_invocation_logs (
    id           BIGSERIAL PRIMARY KEY,
    tx           BIGINT NOT NULL DEFAULT (pg_current_xact_id()::text::bigint),
    extension_id BIGINT NOT NULL,
    environment  TEXT NOT NULL,
    at           TIMESTAMPTZ NOT NULL,
    action       TEXT NOT NULL,
    request_id   TEXT NOT NULL,
    outcome      TEXT NOT NULL,
    duration_ms  DOUBLE PRECISION NOT NULL,
    console      TEXT NOT NULL,
    error        TEXT,
    reads        TEXT NOT NULL
);
CREATE INDEX ext_invocation_logs_position ON ext_invocation_logs (extension_id, environment, tx, id);
CREATE INDEX ext_invocation_logs_at ON ext_invocation_logs (at);
