//! The audit log's chain on PostgreSQL: sealing under the heads' row locks, verify's walk
//! in one REPEATABLE READ snapshot, retention's anchor moves and the upgrade of chains
//! from the unkeyed encoding.

use chrono::{DateTime, Utc};
use lumio_core::{pruned_detail, AuditRootKey, PRUNED_EVENT};
use sqlx::{PgConnection, Postgres, QueryBuilder};

use super::audit::{entry, AuditRow};
use super::PgStore;
use crate::chain::{
    chained, hash_column, keyed_detail, system_record, without_chain_row, Ends, Heads, Links, Walk,
    KEYED_EVENT, SEAL_LIMIT, VERIFY_PAGE,
};
use crate::{AuditRecord, ChainVerdict, ChainedEntry, ExportQuery, StoreError};

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

    /// Seals every unsealed record, or only one extension's. Nothing before the service
    /// has given the store its audit root key.
    pub(super) async fn seal_pending(&self, extension_id: Option<i64>) -> Result<u64, StoreError> {
        let Some(root) = self.audit_root.get() else {
            return Ok(0);
        };
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
        let mut heads = lock_heads(&mut tx, &ids, root).await?;
        let sealed = seal_unsealed(&mut tx, &mut heads).await?;
        store_heads(&mut tx, &heads).await?;
        tx.commit().await?;
        Ok(sealed)
    }

    pub(super) async fn walk_chain(&self, extension_id: i64) -> Result<ChainVerdict, StoreError> {
        let root = self.audit_root.required()?;
        self.seal_pending(Some(extension_id)).await?;
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .execute(&mut *tx)
            .await?;
        let Some(ends) = ends(&mut tx, extension_id).await? else {
            let sealed: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM ext_audit_log \
                 WHERE extension_id = $1 AND seq IS NOT NULL)",
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

    pub(super) async fn key_chains(
        &self,
        root: &AuditRootKey,
    ) -> Result<Vec<(i64, ChainVerdict)>, StoreError> {
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT extension_id FROM ext_audit_chain WHERE NOT keyed ORDER BY extension_id",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut upgraded = Vec::new();
        for id in ids {
            let mut tx = self.pool.begin().await?;
            if let Some(verdict) = key_chain(&mut tx, id, root).await? {
                upgraded.push((id, verdict));
            }
            tx.commit().await?;
        }
        Ok(upgraded)
    }

    /// Moves each keyed chain's anchor to its last sealed record stamped before
    /// `cutoff`, with an `audit.pruned` record saying so sealed in the same transaction,
    /// before retention removes those records.
    pub(super) async fn move_anchors(&self, cutoff: DateTime<Utc>) -> Result<(), StoreError> {
        let Some(root) = self.audit_root.get() else {
            return Ok(()); // nothing sealed yet either: records are kept, never removed unsealed
        };
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT c.extension_id FROM ext_audit_chain c WHERE c.keyed AND EXISTS \
             (SELECT 1 FROM ext_audit_log l WHERE l.extension_id = c.extension_id \
              AND l.at < $1 AND l.seq > c.anchor_seq) ORDER BY c.extension_id",
        )
        .bind(cutoff)
        .fetch_all(&self.pool)
        .await?;
        if ids.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        let mut heads = lock_heads(&mut tx, &ids, root).await?;
        // What is pending goes first, so the pruned record is the newest.
        seal_unsealed(&mut tx, &mut heads).await?;
        let mut records = Vec::new();
        for id in heads.ids() {
            let Some(old_anchor) = ends(&mut tx, id).await?.map(|e| e.anchor_seq) else {
                continue;
            };
            let last: Option<(i64, Vec<u8>)> = sqlx::query_as(
                "SELECT seq, hash FROM ext_audit_log WHERE extension_id = $1 AND at < $2 \
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
                "UPDATE ext_audit_chain SET anchor_seq = $2, anchor_hash = $3 \
                 WHERE extension_id = $1",
            )
            .bind(id)
            .bind(seq)
            .bind(hash.to_vec())
            .execute(&mut *tx)
            .await?;
            let detail = pruned_detail(seq, &hash, seq - old_anchor);
            records.push(system_record(id, PRUNED_EVENT, detail));
        }
        insert_sealed(&mut tx, &records, &mut heads).await?;
        store_heads(&mut tx, &heads).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// One keyset page of a chain after its anchor, in (seq, id) order.
async fn page(
    conn: &mut PgConnection,
    extension_id: i64,
    anchor_seq: i64,
    after: (i64, i64),
) -> Result<Vec<ChainedEntry>, StoreError> {
    let rows: Vec<ChainedRow> = sqlx::query_as(&format!(
        "SELECT seq, hash, {SELECT_FIELDS} FROM ext_audit_log \
         WHERE extension_id = $1 AND seq IS NOT NULL AND seq > $4 \
         AND (seq, id) > ($2, $3) ORDER BY seq, id LIMIT $5"
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
/// again under its key, under the chain row's lock; `None` if it was keyed already.
async fn key_chain(
    conn: &mut PgConnection,
    extension_id: i64,
    root: &AuditRootKey,
) -> Result<Option<ChainVerdict>, StoreError> {
    let locked: Option<bool> =
        sqlx::query_scalar("SELECT keyed FROM ext_audit_chain WHERE extension_id = $1 FOR UPDATE")
            .bind(extension_id)
            .fetch_optional(&mut *conn)
            .await?;
    if locked != Some(false) {
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
        let (mut ids, mut hashes) = (Vec::new(), Vec::new());
        for row in &rows {
            let seq = row.seq.unwrap_or_default();
            previous = links.link(&previous, seq, &row.entry.record);
            last_seq = seq;
            ids.push(row.entry.id);
            hashes.push(previous.to_vec());
        }
        sqlx::query(
            "UPDATE ext_audit_log l SET hash = u.hash \
             FROM UNNEST($2::bigint[], $3::bytea[]) AS u(id, hash) \
             WHERE l.extension_id = $1 AND l.id = u.id",
        )
        .bind(extension_id)
        .bind(&ids)
        .bind(&hashes)
        .execute(&mut *conn)
        .await?;
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
    sqlx::query("UPDATE ext_audit_chain SET head_hash = $2, keyed = TRUE WHERE extension_id = $1")
        .bind(extension_id)
        .bind(head_hash.to_vec())
        .execute(&mut *conn)
        .await?;
    let mut heads = Heads::new(root.clone());
    heads.insert(extension_id, ends.head_seq, head_hash);
    let record = system_record(extension_id, KEYED_EVENT, keyed_detail(&ends, &verdict));
    insert_sealed(conn, &[record], &mut heads).await?;
    store_heads(conn, &heads).await?;
    Ok(Some(verdict))
}

/// Inserts records Lumio adds itself, sealed at once under the held heads.
async fn insert_sealed(
    conn: &mut PgConnection,
    records: &[AuditRecord],
    heads: &mut Heads,
) -> Result<(), StoreError> {
    for r in records {
        let (seq, hash) = heads
            .seal(r)
            .map_or((None, None), |(s, h)| (Some(s), Some(h)));
        sqlx::query(
            "INSERT INTO ext_audit_log (at, extension_id, environment, event, secret_name, \
             actor, action, request_id, outcome, detail, seq, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(r.at)
        .bind(r.extension_id)
        .bind(r.environment.map(|e| e.as_str()))
        .bind(&r.event)
        .bind(&r.secret_name)
        .bind(&r.actor)
        .bind(&r.action)
        .bind(&r.request_id)
        .bind(&r.outcome)
        .bind(&r.detail)
        .bind(seq)
        .bind(hash.map(|h| h.to_vec()))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// A chain's ends; `None` if its row is missing.
async fn ends(conn: &mut PgConnection, extension_id: i64) -> Result<Option<Ends>, StoreError> {
    let row: Option<(i64, Vec<u8>, i64, Vec<u8>)> = sqlx::query_as(
        "SELECT head_seq, head_hash, anchor_seq, anchor_hash FROM ext_audit_chain \
         WHERE extension_id = $1",
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

/// Locks the chain rows of `ids` (sorted, distinct) in id order, so two sealing
/// transactions never deadlock. Rows that are missing (deleted: verify reports it) or
/// not keyed yet (waiting for the upgrade at start) are left out: their records wait.
pub(super) async fn lock_heads(
    conn: &mut PgConnection,
    ids: &[i64],
    root: AuditRootKey,
) -> Result<Heads, StoreError> {
    let rows: Vec<(i64, i64, Vec<u8>, bool)> = sqlx::query_as(
        "SELECT extension_id, head_seq, head_hash, keyed FROM ext_audit_chain \
         WHERE extension_id = ANY($1) ORDER BY extension_id FOR UPDATE",
    )
    .bind(ids)
    .fetch_all(&mut *conn)
    .await?;
    let mut heads = Heads::new(root);
    for (id, seq, hash, keyed) in rows {
        if keyed {
            heads.insert(id, seq, hash_column(hash)?);
        }
    }
    Ok(heads)
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
        "SELECT {SELECT_FIELDS} FROM ext_audit_log WHERE hash IS NULL \
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
        let entry = entry(row)?;
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
