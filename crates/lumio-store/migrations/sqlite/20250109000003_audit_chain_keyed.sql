-- Issue 22, item 5: the audit chain's links are keyed (HMAC-SHA256 under a key derived
-- from the instance's audit root key, which the database holds only sealed under the
-- master key; docs/audit-chain.md). A chain written before this is linked again under
-- its key once, at the first start that has the key; until then `keyed` is false and
-- the sealer leaves its new records unsealed. Chains created from now on are keyed.
ALTER TABLE ext_audit_chain ADD COLUMN keyed INTEGER NOT NULL DEFAULT 0;
