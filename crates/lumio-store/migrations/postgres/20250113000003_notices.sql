-- Issue 28: expiry and rotation notices sent, so each (secret, due date, notice) is sent
-- once: 30 days, 7 days and 1 day before, and at the due time. Keyed by the due date, so a
-- new expiry or rotation date arms them again. The notice itself is an audit record
-- (secret.expiring, …) inserted with the row, which the outbox trigger makes an event.
CREATE TABLE ext_secret_notices (
    extension_id BIGINT NOT NULL,
    environment  TEXT NOT NULL,
    name         TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('expiry', 'rotation')),
    due_at       TIMESTAMPTZ NOT NULL,
    notice       TEXT NOT NULL,
    sent_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (extension_id, environment, name, kind, due_at, notice)
);
