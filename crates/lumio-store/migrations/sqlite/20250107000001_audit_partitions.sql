-- Issue 12, item 5: retention deletes the records older than its cut-off in small batches;
-- this index finds them without scanning the log. (PostgreSQL partitions the log by day
-- instead; SQLite has no partitions.)
CREATE INDEX ext_audit_log_by_time ON ext_audit_log (at);
