//! The audit chain's heads on SQLite: its one writer serialises sealing (the caller's
//! `BEGIN IMMEDIATE` is the lock), records sealed and heads stored back row by row.

use lumio_core::AuditRootKey;
use sqlx::SqliteConnection;

use super::SqliteStore;
use crate::audit::{AuditRow, COLUMNS};
use crate::chain::{ChainRow, Heads, SEAL_LIMIT};
use crate::StoreError;

impl SqliteStore {
    /// Nothing to do ahead of the transaction: [`Self::lock_heads`] creates missing rows
    /// under the write lock.
    pub(super) async fn ensure_heads(&self, _ids: &[i64]) -> Result<(), StoreError> {
        Ok(())
    }

    /// The heads of `ids`; the caller's `BEGIN IMMEDIATE` is the lock. A row is created only
    /// for an extension with no sealed record; one whose row was deleted (verify reports
    /// it) or that is not keyed yet (waiting for the upgrade at start) is left out, and its
    /// records wait unsealed.
    pub(super) async fn lock_heads(
        conn: &mut SqliteConnection,
        ids: &[i64],
        root: AuditRootKey,
    ) -> Result<Heads, StoreError> {
        let mut rows = Vec::new();
        for &id in ids {
            sqlx::query(
                "INSERT INTO ext_audit_chain \
                   (extension_id, head_seq, head_hash, anchor_seq, anchor_hash, keyed) \
                 SELECT ?1, 0, ?2, 0, ?2, 1 WHERE NOT EXISTS \
                   (SELECT 1 FROM ext_audit_log WHERE extension_id = ?1 AND seq IS NOT NULL) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(id)
            .bind(lumio_core::GENESIS_HASH.to_vec())
            .execute(&mut *conn)
            .await?;
            let row: Option<ChainRow> = sqlx::query_as(
                "SELECT extension_id, head_seq, head_hash, keyed FROM ext_audit_chain \
                 WHERE extension_id = ?",
            )
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
            rows.extend(row);
        }
        Heads::held(root, rows)
    }

    /// Seals the unsealed records of the held chains, in time order per extension (see the
    /// PostgreSQL twin).
    pub(super) async fn seal_unsealed(
        conn: &mut SqliteConnection,
        heads: &mut Heads,
    ) -> Result<u64, StoreError> {
        let mut sealed = 0;
        for id in heads.ids() {
            let rows: Vec<AuditRow> = sqlx::query_as(&format!(
                "SELECT {COLUMNS} FROM ext_audit_log WHERE hash IS NULL \
                 AND extension_id = ? ORDER BY at, id LIMIT ?"
            ))
            .bind(id)
            .bind(SEAL_LIMIT - sealed as i64)
            .fetch_all(&mut *conn)
            .await?;
            for row in rows {
                let entry = row.entry()?;
                let Some((seq, hash)) = heads.seal_found(&entry.record) else {
                    continue;
                };
                sqlx::query("UPDATE ext_audit_log SET seq = ?, hash = ? WHERE id = ?")
                    .bind(seq)
                    .bind(hash.to_vec())
                    .bind(entry.id)
                    .execute(&mut *conn)
                    .await?;
                sealed += 1;
            }
        }
        Ok(sealed)
    }
}
