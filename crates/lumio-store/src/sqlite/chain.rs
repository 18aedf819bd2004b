//! The audit log's chain on SQLite: its one writer serialises sealing, verify reads in
//! one read transaction; retention's anchor moves and the upgrade of chains from the
//! unkeyed encoding run on the writer too.

use lumio_core::{pruned_detail, AuditRootKey, PRUNED_EVENT};
use sqlx::SqliteConnection;

use super::audit::{entry, AuditRow};
use super::{micros, SqliteStore};
use crate::chain::{
    chained, hash_column, keyed_detail, system_record, without_chain_row, Ends, Heads, Links, Walk,
    KEYED_EVENT, SEAL_LIMIT, VERIFY_PAGE,
};
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
    /// Seals every unsealed record, or only one extension's. Nothing before the service
    /// has given the store its audit root key.
    pub(super) async fn seal_pending(&self, extension_id: Option<i64>) -> Result<u64, StoreError> {
        let Some(root) = self.audit_root.get() else {
            return Ok(0);
        };
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
        let mut heads = lock_heads(&mut tx, &ids, root).await?;
        let sealed = seal_unsealed(&mut tx, &mut heads).await?;
        store_heads(&mut tx, &heads).await?;
        tx.commit().await?;
        Ok(sealed)
    }

    pub(super) async fn walk_chain(&self, extension_id: i64) -> Result<ChainVerdict, StoreError> {
        let root = self.audit_root.required()?;
        self.seal_pending(Some(extension_id)).await?;
        // One read transaction: one snapshot of the WAL for the whole walk.
        let mut tx = self.readers.begin().await?;
        let Some(ends) = ends(&mut tx, extension_id).await? else {
            let sealed: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM ext_audit_log \
                 WHERE extension_id = ? AND seq IS NOT NULL)",
            )
            .bind(extension_id)
            .fetch_one(&mut *tx)
            .await?;
            tx.commit().await?;
            return Ok(without_chain_row(sealed));
        };
        let mut walk = Walk::new(ends, Links::Keyed(root.chain_key(extension_id)));
        let mut after = (ends.anchor_seq, i64::MAX);
        loop {
            let rows = page(&mut tx, extension_id, ends.anchor_seq, after).await?;
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

    pub(super) async fn key_chains(
        &self,
        root: &AuditRootKey,
    ) -> Result<Vec<(i64, ChainVerdict)>, StoreError> {
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT extension_id FROM ext_audit_chain WHERE NOT keyed ORDER BY extension_id",
        )
        .fetch_all(&self.readers)
        .await?;
        let mut upgraded = Vec::new();
        for id in ids {
            let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
            if let Some(verdict) = key_chain(&mut tx, id, root).await? {
                upgraded.push((id, verdict));
            }
            tx.commit().await?;
        }
        Ok(upgraded)
    }

    /// Moves each keyed chain's anchor to its last sealed record stamped before `cutoff`
    /// (microseconds), with an `audit.pruned` record saying so sealed in the same
    /// transaction, before retention deletes those records.
    pub(super) async fn move_anchors(&self, cutoff: i64) -> Result<(), StoreError> {
        let Some(root) = self.audit_root.get() else {
            return Ok(());
        };
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT c.extension_id FROM ext_audit_chain c WHERE c.keyed AND EXISTS \
             (SELECT 1 FROM ext_audit_log l WHERE l.extension_id = c.extension_id \
              AND l.at < ? AND l.seq > c.anchor_seq) ORDER BY c.extension_id",
        )
        .bind(cutoff)
        .fetch_all(&self.readers)
        .await?;
        if ids.is_empty() {
            return Ok(());
        }
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let mut heads = lock_heads(&mut tx, &ids, root).await?;
        // What is pending goes first, so the pruned record is the newest.
        seal_unsealed(&mut tx, &mut heads).await?;
        let mut records = Vec::new();
        for id in heads.ids() {
            let Some(old_anchor) = ends(&mut tx, id).await?.map(|e| e.anchor_seq) else {
                continue;
            };
            let last: Option<(i64, Vec<u8>)> = sqlx::query_as(
                "SELECT seq, hash FROM ext_audit_log WHERE extension_id = ? AND at < ? \
                 AND seq IS NOT NULL AND hash IS NOT NULL ORDER BY seq DESC LIMIT 1",
            )
            .bind(id)
            .bind(cutoff)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((seq, hash)) = last else { continue };
            if seq <= old_anchor {
                continue;
            }
            let hash = hash_column(hash)?;
            sqlx::query(
                "UPDATE ext_audit_chain SET anchor_seq = ?, anchor_hash = ? WHERE extension_id = ?",
            )
            .bind(seq)
            .bind(hash.to_vec())
            .bind(id)
            .execute(&mut *tx)
            .await?;
            let detail = pruned_detail(seq, &hash, seq - old_anchor);
            records.push(system_record(id, PRUNED_EVENT, detail));
        }
        super::audit::insert_sealed(&mut tx, &records, &mut heads).await?;
        store_heads(&mut tx, &heads).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// One keyset page of a chain after its anchor, in (seq, id) order.
async fn page(
    conn: &mut SqliteConnection,
    extension_id: i64,
    anchor_seq: i64,
    after: (i64, i64),
) -> Result<Vec<ChainedEntry>, StoreError> {
    let rows: Vec<ChainedRow> = sqlx::query_as(&format!(
        "SELECT seq, hash, {SELECT_FIELDS} FROM ext_audit_log \
         WHERE extension_id = ?1 AND seq IS NOT NULL AND seq > ?4 \
         AND (seq, id) > (?2, ?3) ORDER BY seq, id LIMIT ?5"
    ))
    .bind(extension_id)
    .bind(after.0)
    .bind(after.1)
    .bind(anchor_seq)
    .bind(VERIFY_PAGE)
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter().map(chained_row).collect()
}

/// Checks one chain under the unkeyed encoding and links every record after its anchor
/// again under its key, inside the caller's write transaction; `None` if it was keyed
/// already.
async fn key_chain(
    conn: &mut SqliteConnection,
    extension_id: i64,
    root: &AuditRootKey,
) -> Result<Option<ChainVerdict>, StoreError> {
    let keyed: Option<bool> =
        sqlx::query_scalar("SELECT keyed FROM ext_audit_chain WHERE extension_id = ?")
            .bind(extension_id)
            .fetch_optional(&mut *conn)
            .await?;
    if keyed != Some(false) {
        return Ok(None);
    }
    let Some(ends) = ends(conn, extension_id).await? else {
        return Ok(None);
    };
    let mut walk = Walk::new(ends, Links::V1);
    let links = Links::Keyed(root.chain_key(extension_id));
    let (mut previous, mut last_seq) = (ends.anchor_hash, ends.anchor_seq);
    let mut after = (ends.anchor_seq, i64::MAX);
    loop {
        let rows = page(conn, extension_id, ends.anchor_seq, after).await?;
        let full = rows.len() as i64 == VERIFY_PAGE;
        for row in &rows {
            let seq = row.seq.unwrap_or_default();
            previous = links.link(&previous, seq, &row.entry.record);
            last_seq = seq;
            sqlx::query("UPDATE ext_audit_log SET hash = ? WHERE id = ?")
                .bind(previous.to_vec())
                .bind(row.entry.id)
                .execute(&mut *conn)
                .await?;
        }
        let mut cursor = after;
        walk.push_page(rows, &mut cursor);
        after = cursor;
        if !full {
            break;
        }
    }
    let verdict = walk.finish();
    // A truncated chain keeps its stored head, so it still verifies as truncated.
    let head_hash = if last_seq == ends.head_seq {
        previous
    } else {
        ends.head_hash
    };
    sqlx::query("UPDATE ext_audit_chain SET head_hash = ?, keyed = 1 WHERE extension_id = ?")
        .bind(head_hash.to_vec())
        .bind(extension_id)
        .execute(&mut *conn)
        .await?;
    let mut heads = Heads::new(root.clone());
    heads.insert(extension_id, ends.head_seq, head_hash);
    let record = system_record(extension_id, KEYED_EVENT, keyed_detail(&ends, &verdict));
    super::audit::insert_sealed(conn, &[record], &mut heads).await?;
    store_heads(conn, &heads).await?;
    Ok(Some(verdict))
}

/// A chain's ends; `None` if its row is missing.
async fn ends(conn: &mut SqliteConnection, extension_id: i64) -> Result<Option<Ends>, StoreError> {
    let row: Option<(i64, Vec<u8>, i64, Vec<u8>)> = sqlx::query_as(
        "SELECT head_seq, head_hash, anchor_seq, anchor_hash FROM ext_audit_chain \
         WHERE extension_id = ?",
    )
    .bind(extension_id)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|(head_seq, head_hash, anchor_seq, anchor_hash)| {
        Ok(Ends {
            head_seq,
            head_hash: hash_column(head_hash)?,
            anchor_seq,
            anchor_hash: hash_column(anchor_hash)?,
        })
    })
    .transpose()
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
    let mut heads = Heads::new(root);
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
        let row: Option<(i64, Vec<u8>, bool)> = sqlx::query_as(
            "SELECT head_seq, head_hash, keyed FROM ext_audit_chain WHERE extension_id = ?",
        )
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some((seq, hash, true)) = row {
            heads.insert(id, seq, hash_column(hash)?);
        }
    }
    Ok(heads)
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
            "SELECT {SELECT_FIELDS} FROM ext_audit_log WHERE hash IS NULL \
             AND extension_id = ? ORDER BY at, id LIMIT ?"
        ))
        .bind(id)
        .bind(SEAL_LIMIT - sealed as i64)
        .fetch_all(&mut *conn)
        .await?;
        for row in rows {
            let entry = entry(row)?;
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
