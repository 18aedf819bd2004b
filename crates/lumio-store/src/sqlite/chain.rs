//! The audit log's hash chain on SQLite: its one writer serialises sealing, and verify
//! reads in one read transaction.

use sqlx::{SqliteConnection, SqlitePool};

use super::audit::{entry, AuditRow};
use super::{micros, SqliteStore};
use crate::chain::{chained, hash_column, Ends, Heads, Walk, SEAL_LIMIT, VERIFY_PAGE};
use crate::{ChainVerdict, ChainedEntry, ExportQuery, StoreError};

const SELECT_FIELDS: &str = "id, at, extension_id, environment, event, secret_name, actor, \
     action, request_id, outcome, detail";

type ChainedRow = (
    Option<i64>,
    Option<Vec<u8>>,
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

fn chained_row(row: ChainedRow) -> Result<ChainedEntry, StoreError> {
    let (seq, hash, a, b, c, d, e, f, g, h, i, j, k) = row;
    Ok(chained(
        seq,
        hash,
        entry((a, b, c, d, e, f, g, h, i, j, k))?,
    ))
}

impl SqliteStore {
    pub(super) async fn seal_pending(&self, extension_id: Option<i64>) -> Result<u64, StoreError> {
        let ids: Vec<i64> = match extension_id {
            Some(id) => vec![id],
            None => {
                sqlx::query_scalar(
                    "SELECT DISTINCT extension_id FROM ext_audit_log WHERE hash IS NULL \
                     ORDER BY extension_id",
                )
                .fetch_all(&self.readers)
                .await?
            }
        };
        if ids.is_empty() {
            return Ok(0);
        }
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let mut heads = lock_heads(&mut tx, &ids).await?;
        let sealed = seal_unsealed(&mut tx, &ids, &mut heads).await?;
        store_heads(&mut tx, &heads).await?;
        tx.commit().await?;
        Ok(sealed)
    }

    pub(super) async fn walk_chain(&self, extension_id: i64) -> Result<ChainVerdict, StoreError> {
        self.seal_pending(Some(extension_id)).await?;
        // One read transaction: one snapshot of the WAL for the whole walk.
        let mut tx = self.readers.begin().await?;
        let ends = ends(&mut tx, extension_id).await?;
        let mut walk = Walk::new(ends);
        let mut after = (ends.anchor_seq, i64::MAX);
        loop {
            let rows: Vec<ChainedRow> = sqlx::query_as(&format!(
                "SELECT seq, hash, {SELECT_FIELDS} FROM ext_audit_log \
                 WHERE extension_id = ?1 AND seq IS NOT NULL AND seq > ?4 \
                 AND (seq, id) > (?2, ?3) ORDER BY seq, id LIMIT ?5"
            ))
            .bind(extension_id)
            .bind(after.0)
            .bind(after.1)
            .bind(ends.anchor_seq)
            .bind(VERIFY_PAGE)
            .fetch_all(&mut *tx)
            .await?;
            let rows = rows
                .into_iter()
                .map(chained_row)
                .collect::<Result<_, _>>()?;
            if !walk.push_page(rows, &mut after) {
                break;
            }
        }
        tx.commit().await?;
        Ok(walk.finish())
    }

    pub(super) async fn select_export(
        &self,
        query: &ExportQuery,
    ) -> Result<Vec<ChainedEntry>, StoreError> {
        let rows: Vec<ChainedRow> = sqlx::query_as(&format!(
            "SELECT seq, hash, {SELECT_FIELDS} FROM ext_audit_log \
             WHERE extension_id = ? AND id > ? AND at >= ? ORDER BY id LIMIT ?"
        ))
        .bind(query.extension_id)
        .bind(query.after_id.unwrap_or(0))
        .bind(query.since.map_or(i64::MIN, micros))
        .bind(query.limit.max(0))
        .fetch_all(&self.readers)
        .await?;
        rows.into_iter().map(chained_row).collect()
    }
}

async fn ends(conn: &mut SqliteConnection, extension_id: i64) -> Result<Ends, StoreError> {
    let row: Option<(i64, Vec<u8>, i64, Vec<u8>)> = sqlx::query_as(
        "SELECT head_seq, head_hash, anchor_seq, anchor_hash FROM ext_audit_chain \
         WHERE extension_id = ?",
    )
    .bind(extension_id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(match row {
        None => Ends::EMPTY,
        Some((head_seq, head_hash, anchor_seq, anchor_hash)) => Ends {
            head_seq,
            head_hash: hash_column(head_hash)?,
            anchor_seq,
            anchor_hash: hash_column(anchor_hash)?,
        },
    })
}

/// The heads of `ids`, created if missing; the caller's `BEGIN IMMEDIATE` is the lock.
pub(super) async fn lock_heads(
    conn: &mut SqliteConnection,
    ids: &[i64],
) -> Result<Heads, StoreError> {
    let mut heads = Heads::default();
    for &id in ids {
        sqlx::query(
            "INSERT INTO ext_audit_chain (extension_id, head_seq, head_hash, anchor_seq, anchor_hash) \
             VALUES (?1, 0, ?2, 0, ?2) ON CONFLICT DO NOTHING",
        )
        .bind(id)
        .bind(lumio_core::GENESIS_HASH.to_vec())
        .execute(&mut *conn)
        .await?;
        let (seq, hash): (i64, Vec<u8>) = sqlx::query_as(
            "SELECT head_seq, head_hash FROM ext_audit_chain WHERE extension_id = ?",
        )
        .bind(id)
        .fetch_one(&mut *conn)
        .await?;
        heads.insert(id, seq, hash_column(hash)?);
    }
    Ok(heads)
}

/// Seals the unsealed records of `ids`, in id order per extension.
pub(super) async fn seal_unsealed(
    conn: &mut SqliteConnection,
    ids: &[i64],
    heads: &mut Heads,
) -> Result<u64, StoreError> {
    let mut sealed = 0;
    for &id in ids {
        let rows: Vec<AuditRow> = sqlx::query_as(&format!(
            "SELECT {SELECT_FIELDS} FROM ext_audit_log WHERE hash IS NULL \
             AND extension_id = ? ORDER BY id LIMIT ?"
        ))
        .bind(id)
        .bind(SEAL_LIMIT - sealed as i64)
        .fetch_all(&mut *conn)
        .await?;
        for row in rows {
            let entry = entry(row)?;
            let (seq, hash) = heads.seal(&entry.record);
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

pub(super) async fn store_heads(
    conn: &mut SqliteConnection,
    heads: &Heads,
) -> Result<(), StoreError> {
    if !heads.moved() {
        return Ok(());
    }
    let (ids, seqs, hashes) = heads.columns();
    for ((id, seq), hash) in ids.into_iter().zip(seqs).zip(hashes) {
        sqlx::query(
            "UPDATE ext_audit_chain SET head_seq = ?, head_hash = ? WHERE extension_id = ?",
        )
        .bind(seq)
        .bind(hash)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Moves each extension's anchor forward to its last sealed record stamped before
/// `cutoff` (microseconds), before those records are deleted.
pub(super) async fn anchor_before(writer: &SqlitePool, cutoff: i64) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE ext_audit_chain SET \
           anchor_seq = r.seq, anchor_hash = r.hash \
         FROM (SELECT l.extension_id, l.seq, l.hash FROM ext_audit_log l \
               JOIN (SELECT extension_id, MAX(seq) AS seq FROM ext_audit_log \
                     WHERE at < ? AND seq IS NOT NULL AND hash IS NOT NULL GROUP BY extension_id) m \
               ON l.extension_id = m.extension_id AND l.seq = m.seq) r \
         WHERE ext_audit_chain.extension_id = r.extension_id AND r.seq > ext_audit_chain.anchor_seq",
    )
    .bind(cutoff)
    .execute(writer)
    .await?;
    Ok(())
}
