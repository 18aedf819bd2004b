//! The audit log's hash chain on PostgreSQL: sealing under the heads' row locks, and
//! verify's walk in one REPEATABLE READ snapshot.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Postgres, QueryBuilder};

use super::audit::{entry, AuditRow};
use super::PgStore;
use crate::chain::{chained, hash_column, Ends, Heads, Walk, SEAL_LIMIT, VERIFY_PAGE};
use crate::{ChainVerdict, ChainedEntry, ExportQuery, StoreError};

const SELECT_FIELDS: &str = "id, at, extension_id, environment, event, secret_name, actor, \
     action, request_id, outcome, detail";

/// A row with its chain columns: (seq, hash) then the audit row.
type ChainedRow = (
    Option<i64>,
    Option<Vec<u8>>,
    i64,
    DateTime<Utc>,
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

impl PgStore {
    /// Makes sure every extension in `ids` has its chain row, outside any transaction
    /// (so no head lock is held while another server creates one). Rows are never
    /// deleted, so each is created once per process at most.
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
            "INSERT INTO ext_audit_chain (extension_id, head_seq, head_hash, anchor_seq, anchor_hash) \
             SELECT e, 0, $2, 0, $2 FROM UNNEST($1::bigint[]) AS e ORDER BY e \
             ON CONFLICT DO NOTHING",
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

    /// Seals every unsealed record, or only one extension's.
    pub(super) async fn seal_pending(&self, extension_id: Option<i64>) -> Result<u64, StoreError> {
        let ids: Vec<i64> = match extension_id {
            Some(id) => vec![id],
            // The partial index on unsealed rows makes this one cheap probe when idle.
            None => {
                sqlx::query_scalar(
                    "SELECT DISTINCT extension_id FROM ext_audit_log WHERE hash IS NULL \
                     ORDER BY extension_id",
                )
                .fetch_all(&self.pool)
                .await?
            }
        };
        if ids.is_empty() {
            return Ok(0);
        }
        self.ensure_heads(&ids).await?;
        let mut tx = self.pool.begin().await?;
        let mut heads = lock_heads(&mut tx, &ids).await?;
        let sealed = seal_unsealed(&mut tx, &ids, &mut heads).await?;
        store_heads(&mut tx, &heads).await?;
        tx.commit().await?;
        Ok(sealed)
    }

    pub(super) async fn walk_chain(&self, extension_id: i64) -> Result<ChainVerdict, StoreError> {
        self.seal_pending(Some(extension_id)).await?;
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .execute(&mut *tx)
            .await?;
        let ends = ends(&mut tx, extension_id).await?;
        let mut walk = Walk::new(ends);
        let mut after = (ends.anchor_seq, i64::MAX);
        loop {
            let rows: Vec<ChainedRow> = sqlx::query_as(&format!(
                "SELECT seq, hash, {SELECT_FIELDS} FROM ext_audit_log \
                 WHERE extension_id = $1 AND seq IS NOT NULL AND seq > $4 \
                 AND (seq, id) > ($2, $3) ORDER BY seq, id LIMIT $5"
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
        let mut sql = QueryBuilder::<Postgres>::new(format!(
            "SELECT seq, hash, {SELECT_FIELDS} FROM ext_audit_log WHERE extension_id = "
        ));
        sql.push_bind(query.extension_id);
        if let Some(after) = query.after_id {
            sql.push(" AND id > ").push_bind(after);
        }
        if let Some(since) = query.since {
            sql.push(" AND at >= ").push_bind(since);
        }
        sql.push(" ORDER BY id LIMIT ")
            .push_bind(query.limit.max(0));
        let rows: Vec<ChainedRow> = sql.build_query_as().fetch_all(&self.pool).await?;
        rows.into_iter().map(chained_row).collect()
    }
}

/// Moves each extension's anchor forward to the last sealed record stamped before
/// `cutoff` in `table` (one partition), before those records are removed, so verify
/// starts after them.
pub(super) async fn anchor_before(
    conn: &mut PgConnection,
    table: &str,
    cutoff: DateTime<Utc>,
) -> Result<(), StoreError> {
    let sql = format!(
        "UPDATE ext_audit_chain c SET anchor_seq = r.seq, anchor_hash = r.hash \
             FROM (SELECT DISTINCT ON (extension_id) extension_id, seq, hash FROM \"{table}\" \
                   WHERE at < $1 AND seq IS NOT NULL AND hash IS NOT NULL \
                   ORDER BY extension_id, seq DESC) r \
             WHERE c.extension_id = r.extension_id AND r.seq > c.anchor_seq"
    );
    sqlx::query(&sql).bind(cutoff).execute(&mut *conn).await?;
    Ok(())
}

async fn ends(conn: &mut PgConnection, extension_id: i64) -> Result<Ends, StoreError> {
    let row: Option<(i64, Vec<u8>, i64, Vec<u8>)> = sqlx::query_as(
        "SELECT head_seq, head_hash, anchor_seq, anchor_hash FROM ext_audit_chain \
         WHERE extension_id = $1",
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

/// Locks the chain rows of `ids` (sorted, distinct, every one existing: see
/// [`PgStore::ensure_heads`]) in id order, so two sealing transactions never deadlock.
pub(super) async fn lock_heads(conn: &mut PgConnection, ids: &[i64]) -> Result<Heads, StoreError> {
    let rows: Vec<(i64, i64, Vec<u8>)> = sqlx::query_as(
        "SELECT extension_id, head_seq, head_hash FROM ext_audit_chain \
         WHERE extension_id = ANY($1) ORDER BY extension_id FOR UPDATE",
    )
    .bind(ids)
    .fetch_all(&mut *conn)
    .await?;
    let mut heads = Heads::default();
    for (id, seq, hash) in rows {
        heads.insert(id, seq, hash_column(hash)?);
    }
    if let Some(id) = ids.iter().find(|id| !heads.contains(**id)) {
        return Err(StoreError::Corrupt(format!(
            "extension {id} has no audit chain row"
        )));
    }
    Ok(heads)
}

/// Seals the unsealed records of `ids`, in id order per extension, under their locked
/// heads: one bulk UPDATE.
pub(super) async fn seal_unsealed(
    conn: &mut PgConnection,
    ids: &[i64],
    heads: &mut Heads,
) -> Result<u64, StoreError> {
    let rows: Vec<AuditRow> = sqlx::query_as(&format!(
        "SELECT {SELECT_FIELDS} FROM ext_audit_log WHERE hash IS NULL \
         AND extension_id = ANY($1) ORDER BY extension_id, id LIMIT $2"
    ))
    .bind(ids)
    .bind(SEAL_LIMIT)
    .fetch_all(&mut *conn)
    .await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let (mut exts, mut row_ids, mut seqs, mut hashes) = (vec![], vec![], vec![], vec![]);
    for row in rows {
        let entry = entry(row)?;
        let (seq, hash) = heads.seal(&entry.record);
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

/// Writes the moved heads back (under the locks taken by [`lock_heads`]).
pub(super) async fn store_heads(conn: &mut PgConnection, heads: &Heads) -> Result<(), StoreError> {
    if !heads.moved() {
        return Ok(());
    }
    let (ids, seqs, hashes) = heads.columns();
    sqlx::query(
        "UPDATE ext_audit_chain c SET head_seq = u.seq, head_hash = u.hash \
         FROM UNNEST($1::bigint[], $2::bigint[], $3::bytea[]) AS u(extension_id, seq, hash) \
         WHERE c.extension_id = u.extension_id",
    )
    .bind(&ids)
    .bind(&seqs)
    .bind(&hashes)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
