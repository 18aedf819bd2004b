//! The audit chain's heads on PostgreSQL: locked as rows (`FOR UPDATE`, in extension-id
//! order), records sealed and heads stored back with one bulk UPDATE each.

use lumio_core::AuditRootKey;
use sqlx::PgConnection;

use super::PgStore;
use crate::audit::{AuditRow, COLUMNS};
use crate::chain::{ChainRow, Heads, SEAL_LIMIT};
use crate::StoreError;

impl PgStore {
    /// Makes sure every extension in `ids` has its chain row, outside any transaction
    /// (so no head lock is held while another server creates one). A row is created
    /// only for an extension with no sealed record: one whose row was deleted keeps
    /// its records unsealed, and verify reports the row missing.
    pub(super) async fn ensure_heads(&self, ids: &[i64]) -> Result<(), StoreError> {
        let missing: Vec<i64> = {
            let known = self.chain_heads.lock().unwrap_or_else(|e| e.into_inner());
            ids.iter()
                .copied()
                .filter(|id| !known.contains(id))
                .collect()
        };
        if missing.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO ext_audit_chain \
               (extension_id, head_seq, head_hash, anchor_seq, anchor_hash, keyed) \
             SELECT e, 0, $2, 0, $2, TRUE FROM UNNEST($1::bigint[]) AS e \
             WHERE NOT EXISTS (SELECT 1 FROM ext_audit_log l \
                               WHERE l.extension_id = e AND l.seq IS NOT NULL) \
             ORDER BY e ON CONFLICT DO NOTHING",
        )
        .bind(&missing)
        .bind(lumio_core::GENESIS_HASH.to_vec())
        .execute(&self.pool)
        .await?;
        self.chain_heads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(missing);
        Ok(())
    }

    /// Locks the chain rows of `ids` (sorted, distinct) in id order, so two sealing
    /// transactions never deadlock. Rows that are missing (deleted: verify reports it) or
    /// not keyed yet (waiting for the upgrade at start) are left out: their records wait.
    pub(super) async fn lock_heads(
        conn: &mut PgConnection,
        ids: &[i64],
        root: AuditRootKey,
    ) -> Result<Heads, StoreError> {
        let rows: Vec<ChainRow> = sqlx::query_as(
            "SELECT extension_id, head_seq, head_hash, keyed FROM ext_audit_chain \
             WHERE extension_id = ANY($1) ORDER BY extension_id FOR UPDATE",
        )
        .bind(ids)
        .fetch_all(&mut *conn)
        .await?;
        Heads::held(root, rows)
    }

    /// Seals the unsealed records of the held chains, in time order (then id) per extension,
    /// under their locked heads: one bulk UPDATE. Time order, because batches of several
    /// servers held up together (a database outage) commit in any order; what commits
    /// together is then sealed in the order it happened, within the chain's time allowance.
    pub(super) async fn seal_unsealed(
        conn: &mut PgConnection,
        heads: &mut Heads,
    ) -> Result<u64, StoreError> {
        let ids = heads.ids();
        if ids.is_empty() {
            return Ok(0);
        }
        let rows: Vec<AuditRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM ext_audit_log WHERE hash IS NULL \
             AND extension_id = ANY($1) ORDER BY extension_id, at, id LIMIT $2"
        ))
        .bind(&ids)
        .bind(SEAL_LIMIT)
        .fetch_all(&mut *conn)
        .await?;
        if rows.is_empty() {
            return Ok(0);
        }
        let (mut exts, mut row_ids, mut seqs, mut hashes) = (vec![], vec![], vec![], vec![]);
        for row in rows {
            let entry = row.entry()?;
            let Some((seq, hash)) = heads.seal_found(&entry.record) else {
                continue;
            };
            exts.push(entry.record.extension_id);
            row_ids.push(entry.id);
            seqs.push(seq);
            hashes.push(hash.to_vec());
        }
        let updated = sqlx::query(
            "UPDATE ext_audit_log l SET seq = u.seq, hash = u.hash \
             FROM UNNEST($1::bigint[], $2::bigint[], $3::bigint[], $4::bytea[]) \
               AS u(extension_id, id, seq, hash) \
             WHERE l.extension_id = u.extension_id AND l.id = u.id AND l.hash IS NULL",
        )
        .bind(&exts)
        .bind(&row_ids)
        .bind(&seqs)
        .bind(&hashes)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if updated != row_ids.len() as u64 {
            // Sealed by someone not holding the head lock: refuse to write a broken chain.
            return Err(StoreError::Corrupt(
                "audit records were sealed outside the chain's lock".into(),
            ));
        }
        Ok(updated)
    }
}
