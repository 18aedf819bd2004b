//! The audit log on SQLite.

use chrono::{DateTime, Utc};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

use super::{from_micros, micros, SqliteStore};
use crate::chain::{self, Heads};
use crate::retention::{BATCH_PAUSE, DELETE_BATCH};
use crate::{rows, AuditEntry, AuditPruned, AuditQuery, AuditRecord, StoreError};

/// Rows per INSERT: 12 binds each stays well under SQLite's 32,766-parameter limit.
const ROWS_PER_INSERT: usize = 1000;

pub(super) type AuditRow = (
    i64,
    i64,
    i64,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// Inserts records on `conn`, inside the caller's transaction; sealed when `heads` holds
/// their extensions' locked heads (the writer's batches, Lumio's own records), else
/// unsealed (a change's, or any before the audit root key is loaded).
async fn insert_rows(
    conn: &mut SqliteConnection,
    records: &[AuditRecord],
    mut heads: Option<&mut Heads>,
) -> Result<(), sqlx::Error> {
    for chunk in records.chunks(ROWS_PER_INSERT) {
        let mut sql = QueryBuilder::<Sqlite>::new(
            "INSERT INTO ext_audit_log (at, extension_id, environment, event, secret_name, \
             actor, action, request_id, outcome, detail, seq, hash) ",
        );
        sql.push_values(chunk, |mut row, r| {
            let (seq, hash) = match heads.as_deref_mut().and_then(|heads| heads.seal(r)) {
                Some((seq, hash)) => (Some(seq), Some(hash.to_vec())),
                None => (None, None),
            };
            row.push_bind(micros(r.at))
                .push_bind(r.extension_id)
                .push_bind(r.environment.map(|e| e.as_str()))
                .push_bind(&r.event)
                .push_bind(&r.secret_name)
                .push_bind(&r.actor)
                .push_bind(&r.action)
                .push_bind(&r.request_id)
                .push_bind(&r.outcome)
                .push_bind(&r.detail)
                .push_bind(seq)
                .push_bind(hash);
        });
        sql.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Writes a change's records inside the change's transaction. Any failure here means the
/// change must not commit, so it is reported as [`StoreError::AuditRefused`].
/// Inserts records Lumio adds to chains itself, sealed under the held `heads`.
pub(super) async fn insert_sealed(
    conn: &mut SqliteConnection,
    records: &[AuditRecord],
    heads: &mut Heads,
) -> Result<(), StoreError> {
    Ok(insert_rows(conn, records, Some(heads)).await?)
}

pub(super) async fn insert_change_records(
    conn: &mut SqliteConnection,
    records: &[AuditRecord],
) -> Result<(), StoreError> {
    insert_rows(conn, records, None)
        .await
        .map_err(|e| StoreError::AuditRefused(e.to_string()))
}

impl SqliteStore {
    pub(super) async fn insert_audit(&self, batch: &[AuditRecord]) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        // One transaction, so one WAL sync for the whole batch: the heads, the records
        // still unsealed, the batch sealed.
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let Some(root) = self.audit_root.get() else {
            // Before start-up loaded the key: kept unsealed, sealed once it is.
            insert_rows(&mut tx, batch, None).await?;
            tx.commit().await?;
            return Ok(());
        };
        let ids = chain::extension_ids(batch);
        let mut heads = super::chain::lock_heads(&mut tx, &ids, root).await?;
        super::chain::seal_unsealed(&mut tx, &mut heads).await?;
        insert_rows(&mut tx, batch, Some(&mut heads)).await?;
        super::chain::store_heads(&mut tx, &heads).await?;
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn select_audit(
        &self,
        query: &AuditQuery,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let mut sql = QueryBuilder::<Sqlite>::new(
            "SELECT id, at, extension_id, environment, event, secret_name, actor, action, \
             request_id, outcome, detail FROM ext_audit_log WHERE extension_id = ",
        );
        sql.push_bind(query.extension_id);
        if let Some(environment) = query.environment {
            // Extension-wide records (token and extension creation) belong to every environment.
            sql.push(" AND (environment IS NULL OR environment = ")
                .push_bind(environment.as_str())
                .push(")");
        }
        if let Some(name) = &query.secret_name {
            sql.push(" AND secret_name = ").push_bind(name);
        }
        if let Some(event) = &query.event {
            sql.push(" AND event = ").push_bind(event);
        }
        if let Some(before) = query.before_id {
            sql.push(" AND id < ").push_bind(before);
        }
        sql.push(" ORDER BY id DESC LIMIT ")
            .push_bind(query.limit.max(0));
        let rows: Vec<AuditRow> = sql.build_query_as().fetch_all(&self.readers).await?;
        rows.into_iter().map(entry).collect()
    }
}

pub(super) fn entry(row: AuditRow) -> Result<AuditEntry, StoreError> {
    let (
        id,
        at,
        extension_id,
        environment,
        event,
        secret_name,
        actor,
        action,
        request_id,
        outcome,
        detail,
    ) = row;
    Ok(AuditEntry {
        id,
        record: AuditRecord {
            at: from_micros(at)?,
            extension_id,
            environment: environment.as_deref().map(rows::environment).transpose()?,
            event,
            secret_name,
            actor,
            action,
            request_id,
            outcome,
            detail,
        },
    })
}

impl SqliteStore {
    /// Deletes the records stamped before `cutoff`, [`DELETE_BATCH`] per transaction, so
    /// the single writer is never held for longer than one batch.
    pub(super) async fn delete_audit_before(
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
        self.move_anchors(micros(cutoff)).await?;
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
            .bind(micros(cutoff))
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
