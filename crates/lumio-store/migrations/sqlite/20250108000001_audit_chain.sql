-- Issue 11, item 4: the tamper-evident audit log. Each record gets its place in its
-- extension's chain (`seq`) and the SHA-256 linking it to the record before it (`hash`,
-- docs/audit-chain.md). Both stay NULL until the audit writer seals the record: its own
-- batches are sealed as they are written, management changes' records (written in the
-- change's transaction) and every record from before this migration shortly after.
ALTER TABLE ext_audit_log ADD COLUMN seq INTEGER;
ALTER TABLE ext_audit_log ADD COLUMN hash BLOB;

-- The sealer's work list: small, as rows leave it within a second.
CREATE INDEX ext_audit_log_unsealed ON ext_audit_log (extension_id, id) WHERE hash IS NULL;
CREATE UNIQUE INDEX ext_audit_log_by_seq ON ext_audit_log (extension_id, seq) WHERE seq IS NOT NULL;

-- One row per extension: the last sealed record (head) and the last record retention
-- removed (anchor; verify starts after it).
CREATE TABLE ext_audit_chain (
    extension_id INTEGER PRIMARY KEY,
    head_seq     INTEGER NOT NULL,
    head_hash    BLOB NOT NULL,
    anchor_seq   INTEGER NOT NULL,
    anchor_hash  BLOB NOT NULL
) STRICT;
