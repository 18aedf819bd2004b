-- Issue 11: tokens may be limited to one environment and expire; they can be revoked, and
-- their last use is kept (written at most once a minute per token and server).
-- Existing rows: NULL everywhere, i.e. unscoped, never expiring, live: as before.
ALTER TABLE tokens ADD COLUMN environment TEXT CHECK (environment IN ('staging', 'production'));
ALTER TABLE tokens ADD COLUMN expires_at TIMESTAMPTZ;
ALTER TABLE tokens ADD COLUMN last_used_at TIMESTAMPTZ;
ALTER TABLE tokens ADD COLUMN revoked_at TIMESTAMPTZ;
ALTER TABLE tokens ADD COLUMN revoked_by TEXT;
CREATE INDEX tokens_by_extension ON tokens (extension_id);
