//! The audit log on SQLite: the writer's batches sealed as they are inserted, and
//! retention's batched deletes.

use chrono::{DateTime, Utc};

use super::SqliteStore;
use crate::chain;
use crate::retention::{BATCH_PAUSE, DELETE_BATCH};
use crate::stamp::Stamp;
use crate::{AuditPruned, AuditRecord, StoreError};

impl SqliteStore {
    pub(super) async fn insert_audit(&self, batch: &[AuditRecord]) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        // One transaction, so one WAL sync for the whole batch: the heads, the records
        // still unsealed, the batch sealed.
        let mut tx = self.begin_write().await?;
        let Some(root) = self.audit_root.get() else {
            // Before start-up loaded the key: kept unsealed, sealed once it is.
            Self::insert_records(&mut tx, batch, None).await?;
            tx.commit().await?;
            return Ok(());
        };
        let ids = chain::extension_ids(batch);
        let mut heads = Self::lock_heads(&mut tx, &ids, root).await?;
        let pending = Self::seal_unsealed(&mut tx, &mut heads).await?;
        // A full slice means older records may still wait: the batch waits behind them,
        // unsealed, for the sealer to chain in time order.
        let sealing = (pending < chain::SEAL_LIMIT as u64).then_some(&mut heads);
        Self::insert_records(&mut tx, batch, sealing).await?;
        Self::store_heads(&mut tx, &heads).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes the records stamped before `cutoff`, [`DELETE_BATCH`] per transaction, so
    /// the single writer is never held for longer than one batch.
    pub(super) async fn prune_audit_before(
        &self,
        cutoff: DateTime<Utc>,
    ) -> Result<AuditPruned, StoreError> {
        let mut pruned = AuditPruned::default();
        if !self.audit_root.is_set() {
            return Ok(pruned); // the anchors can only move with a keyed record
        }
        // Sealed first, then the anchors move (each with its `audit.pruned` record) to
        // the last record to be removed, so verify starts after what goes.
        self.seal_pending(None).await?;
        self.move_anchors(cutoff).await?;
        loop {
            // Never a sealed record after its chain's anchor: one sealed since the
            // anchor moved (or Lumio's own record, when the cut-off is ahead of now).
            let deleted = sqlx::query(
                "DELETE FROM ext_audit_log WHERE id IN \
                 (SELECT l.id FROM ext_audit_log l \
                  LEFT JOIN ext_audit_chain c ON c.extension_id = l.extension_id \
                  WHERE l.at < ? AND (l.seq IS NULL OR c.anchor_seq IS NULL \
                                      OR l.seq <= c.anchor_seq) \
                  ORDER BY l.at LIMIT ?)",
            )
            .bind(Stamp(cutoff))
            .bind(DELETE_BATCH)
            .execute(&self.writer)
            .await?
            .rows_affected();
            pruned.records_deleted += deleted;
            if deleted < DELETE_BATCH as u64 {
                return Ok(pruned);
            }
            tokio::time::sleep(BATCH_PAUSE).await;
        }
    }
}
