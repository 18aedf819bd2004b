-- Issue 28: due dates. Same meaning as migrations/sqlite.
-- expires_at: when the current version expires; it belongs to that version (a new version
-- without one has none). rotate_every_secs: how often the secret is to be rotated; it
-- belongs to the secret and stays across versions until cleared. current_set_at: when the
-- current version was written, by the service's clock: the rotation clock's start, which
-- only a new version moves (updated_at also moves with a binding or due-date change).
ALTER TABLE ext_secret_heads ADD COLUMN expires_at TIMESTAMPTZ;
ALTER TABLE ext_secret_heads ADD COLUMN rotate_every_secs BIGINT CHECK (rotate_every_secs > 0);
ALTER TABLE ext_secret_heads ADD COLUMN current_set_at TIMESTAMPTZ;

UPDATE ext_secret_heads AS h SET current_set_at = s.created_at
FROM ext_secrets AS s
WHERE s.extension_id = h.extension_id AND s.environment = h.environment
  AND s.name = h.name AND s.version = h.current_version;

-- What reminders read across the instance: only the few heads that have a due date.
CREATE INDEX ext_secret_heads_due ON ext_secret_heads (extension_id)
    WHERE expires_at IS NOT NULL OR rotate_every_secs IS NOT NULL;
