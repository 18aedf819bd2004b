-- The audit page and `lumio audit` filter by event and by secret name; without these,
-- such a filter scanned the extension's whole log (issue 10: 10–17 s on a flooded log).
CREATE INDEX IF NOT EXISTS ext_audit_log_by_event ON ext_audit_log (extension_id, event, id DESC);
CREATE INDEX IF NOT EXISTS ext_audit_log_by_secret ON ext_audit_log (extension_id, secret_name, id DESC);
