-- Change events (issue 28): webhooks, the outbox they are fed from, deliveries, leases.
-- Same meaning as migrations/postgres. `tx` is always 0: SQLite has one writer, so ids
-- become visible in order.

CREATE TABLE ext_webhooks (
    id            TEXT PRIMARY KEY,
    extension_id  INTEGER NOT NULL,
    url           TEXT NOT NULL,
    events        TEXT NOT NULL,
    environment   TEXT CHECK (environment IN ('staging', 'production')),
    secret_sealed BLOB NOT NULL,
    kek_id        TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    created_by    TEXT NOT NULL,
    removed_at    INTEGER
) STRICT;
CREATE INDEX ext_webhooks_by_extension ON ext_webhooks (extension_id) WHERE removed_at IS NULL;

CREATE TABLE ext_events (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    tx           INTEGER NOT NULL DEFAULT 0,
    extension_id INTEGER NOT NULL,
    environment  TEXT,
    event        TEXT NOT NULL,
    secret_name  TEXT,
    actor        TEXT,
    detail       TEXT,
    at           INTEGER NOT NULL,
    fanned_out   INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX ext_events_to_fan_out ON ext_events (tx, id) WHERE fanned_out = 0;

CREATE TABLE ext_webhook_deliveries (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id         INTEGER NOT NULL,
    webhook_id       TEXT NOT NULL,
    extension_id     INTEGER NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed', 'cancelled')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    first_attempt_at INTEGER,
    last_attempt_at  INTEGER,
    last_status      INTEGER,
    last_error       TEXT,
    delivered_at     INTEGER,
    created_at       INTEGER NOT NULL,
    UNIQUE (event_id, webhook_id)
) STRICT;
CREATE INDEX ext_webhook_deliveries_pending ON ext_webhook_deliveries (webhook_id, id)
    WHERE state = 'pending';
CREATE INDEX ext_webhook_deliveries_by_extension ON ext_webhook_deliveries (extension_id, id);

CREATE TABLE lumio_leases (
    name   TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    until  INTEGER NOT NULL
) STRICT;

CREATE TRIGGER ext_audit_log_events AFTER INSERT ON ext_audit_log FOR EACH ROW
    WHEN NEW.event NOT IN ('secret.get', 'secret.denied', 'secret.compared',
                           'egress.blocked', 'leak.blocked', 'audit.pruned',
                           'audit.chain_keyed', 'webhook.delivery', 'webhook.test')
BEGIN
    INSERT INTO ext_events (extension_id, environment, event, secret_name, actor, detail, at)
    VALUES (NEW.extension_id, NEW.environment, NEW.event, NEW.secret_name, NEW.actor,
            NEW.detail, NEW.at);
END;
