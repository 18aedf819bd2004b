-- Issue 11, item 4: the tamper-evident audit log. Each record gets its place in its
-- extension's chain (`seq`) and the SHA-256 linking it to the record before it (`hash`,
-- docs/audit-chain.md). Both stay NULL until the audit writer seals the record: its own
-- batches are sealed as they are written, management changes' records (written in the
-- change's transaction) and every record from before this migration shortly after.
ALTER TABLE ext_audit_log ADD COLUMN seq BIGINT;
ALTER TABLE ext_audit_log ADD COLUMN hash BYTEA;

-- The sealer's work list: small, as rows leave it within a second.
CREATE INDEX ext_audit_log_unsealed ON ext_audit_log (extension_id, id) WHERE hash IS NULL;
-- Verify walks a chain in seq order. A unique index on a partitioned table must include
-- the partition key (`at`), which would not make (extension_id, seq) unique: verify
-- reports a duplicate seq instead.
CREATE INDEX ext_audit_log_by_seq ON ext_audit_log (extension_id, seq, id) WHERE seq IS NOT NULL;

-- One row per extension: the last sealed record (head) and the last record retention
-- removed (anchor; verify starts after it). The row is locked while a chain grows, so
-- several servers sharing the database extend it one at a time.
CREATE TABLE ext_audit_chain (
    extension_id BIGINT PRIMARY KEY,
    head_seq     BIGINT NOT NULL,
    head_hash    BYTEA NOT NULL,
    anchor_seq   BIGINT NOT NULL,
    anchor_hash  BYTEA NOT NULL
);
