-- Change events (issue 28): webhooks, the outbox they are fed from, deliveries, leases.
--
-- The outbox is filled by a trigger on the audit log: every management change already
-- writes its audit record in its own transaction, so the event row commits (or rolls
-- back) with the change itself, whatever path made it (including the single-statement
-- secret write). Records that pair with no change (reads, refusals, the log's own upkeep,
-- delivery outcomes) make no event.

-- A receiver. Its signing secret is stored only sealed under the master key.
CREATE TABLE ext_webhooks (
    id            TEXT PRIMARY KEY,
    extension_id  BIGINT NOT NULL,
    url           TEXT NOT NULL,
    events        TEXT NOT NULL,
    environment   TEXT CHECK (environment IN ('staging', 'production')),
    secret_sealed BYTEA NOT NULL,
    kek_id        TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    created_by    TEXT NOT NULL,
    removed_at    TIMESTAMPTZ
);
CREATE INDEX ext_webhooks_by_extension ON ext_webhooks (extension_id) WHERE removed_at IS NULL;

-- The outbox. `tx` is the change's transaction id: events are fanned out in (tx, id)
-- order and only below the oldest running transaction, so one that commits late is never
-- passed over (as ext_invocation_logs are read).
CREATE TABLE ext_events (
    id           BIGSERIAL PRIMARY KEY,
    tx           BIGINT NOT NULL DEFAULT (pg_current_xact_id()::text::bigint),
    extension_id BIGINT NOT NULL,
    environment  TEXT,
    event        TEXT NOT NULL,
    secret_name  TEXT,
    actor        TEXT,
    detail       TEXT,
    at           TIMESTAMPTZ NOT NULL,
    fanned_out   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX ext_events_to_fan_out ON ext_events (tx, id) WHERE fanned_out = 0;

-- One event to one receiver. Delivered in id order per receiver (the order of its events).
CREATE TABLE ext_webhook_deliveries (
    id               BIGSERIAL PRIMARY KEY,
    event_id         BIGINT NOT NULL,
    webhook_id       TEXT NOT NULL,
    extension_id     BIGINT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed', 'cancelled')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TIMESTAMPTZ NOT NULL,
    first_attempt_at TIMESTAMPTZ,
    last_attempt_at  TIMESTAMPTZ,
    last_status      INTEGER,
    last_error       TEXT,
    delivered_at     TIMESTAMPTZ,
    created_at       TIMESTAMPTZ NOT NULL,
    UNIQUE (event_id, webhook_id)
);
CREATE INDEX ext_webhook_deliveries_pending ON ext_webhook_deliveries (webhook_id, id)
    WHERE state = 'pending';
CREATE INDEX ext_webhook_deliveries_by_extension ON ext_webhook_deliveries (extension_id, id);

-- Named leases: one server at a time does the work a lease names (webhook delivery).
CREATE TABLE lumio_leases (
    name   TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    until  TIMESTAMPTZ NOT NULL
);

CREATE FUNCTION lumio_event_from_audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO ext_events (extension_id, environment, event, secret_name, actor, detail, at)
    VALUES (NEW.extension_id, NEW.environment, NEW.event, NEW.secret_name, NEW.actor,
            NEW.detail, NEW.at);
    RETURN NULL;
END $$;

-- On the partitioned parent: every partition, present and future, gets it.
CREATE TRIGGER ext_audit_log_events AFTER INSERT ON ext_audit_log FOR EACH ROW
    WHEN (NEW.event NOT IN ('secret.get', 'secret.denied', 'secret.compared',
                            'egress.blocked', 'leak.blocked', 'audit.pruned',
                            'audit.chain_keyed', 'webhook.delivery', 'webhook.test'))
    EXECUTE FUNCTION lumio_event_from_audit();
