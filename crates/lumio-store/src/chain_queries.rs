//! The audit chain's SQL both backends share: sealing what is pending, verify's walk,
//! retention's anchor moves and the upgrade of chains from the unkeyed encoding. How the
//! heads are locked, sealed and stored back is each backend's own (row locks and bulk
//! UPDATEs on PostgreSQL, the one writer and per-row UPDATEs on SQLite).

/// A keyset page of a chain after its anchor (`$4`), in (seq, id) order after `($2, $3)`.
pub(crate) fn page() -> String {
    format!(
        "SELECT seq, hash, {} FROM ext_audit_log \
         WHERE extension_id = $1 AND seq IS NOT NULL AND seq > $4 \
         AND (seq, id) > ($2, $3) ORDER BY seq, id LIMIT $5",
        crate::audit::COLUMNS
    )
}

pub(crate) const ENDS: &str = "SELECT head_seq, head_hash, anchor_seq, anchor_hash \
     FROM ext_audit_chain WHERE extension_id = $1";

pub(crate) type EndsRow = (i64, Vec<u8>, i64, Vec<u8>);

pub(crate) fn ends(
    (head_seq, head_hash, anchor_seq, anchor_hash): EndsRow,
) -> Result<crate::chain::Ends, crate::StoreError> {
    Ok(crate::chain::Ends {
        head_seq,
        head_hash: crate::chain::hash_column(head_hash)?,
        anchor_seq,
        anchor_hash: crate::chain::hash_column(anchor_hash)?,
    })
}

/// The extensions with records still unsealed; with the partial index on unsealed rows,
/// one cheap probe when idle.
pub(crate) const UNSEALED_EXTENSIONS: &str =
    "SELECT DISTINCT extension_id FROM ext_audit_log WHERE hash IS NULL ORDER BY extension_id";

pub(crate) const HAS_SEALED: &str = "SELECT EXISTS (SELECT 1 FROM ext_audit_log \
     WHERE extension_id = $1 AND seq IS NOT NULL)";

/// Keyed chains with sealed records stamped before `$1` after their anchor.
pub(crate) const TO_MOVE: &str = "SELECT c.extension_id FROM ext_audit_chain c WHERE c.keyed \
     AND EXISTS (SELECT 1 FROM ext_audit_log l WHERE l.extension_id = c.extension_id \
     AND l.at < $1 AND l.seq > c.anchor_seq) ORDER BY c.extension_id";

/// The last sealed record of `$1` stamped before `$2`.
pub(crate) const LAST_BEFORE: &str = "SELECT seq, hash FROM ext_audit_log \
     WHERE extension_id = $1 AND at < $2 AND seq IS NOT NULL AND hash IS NOT NULL \
     ORDER BY seq DESC LIMIT 1";

pub(crate) const UNKEYED: &str =
    "SELECT extension_id FROM ext_audit_chain WHERE NOT keyed ORDER BY extension_id";

/// Marks chain `$1` keyed, with its head's new link `$2`.
pub(crate) const KEYED: &str =
    "UPDATE ext_audit_chain SET head_hash = $2, keyed = TRUE WHERE extension_id = $1";

pub(crate) const MOVE_ANCHOR: &str =
    "UPDATE ext_audit_chain SET anchor_seq = $2, anchor_hash = $3 WHERE extension_id = $1";

/// The chain methods as inherent methods of a store on database `$db` (see
/// [`crate::store_impl`]). The store provides `ensure_heads`, `lock_heads` and
/// `seal_unsealed`.
macro_rules! chain_queries {
    ($store:ty, $db:ty) => {
        impl $store {
            /// Seals every unsealed record, or only one extension's. Nothing before the
            /// service has given the store its audit root key.
            pub(crate) async fn seal_pending(
                &self,
                extension_id: Option<i64>,
            ) -> Result<u64, $crate::StoreError> {
                let Some(root) = self.audit_root.get() else {
                    return Ok(0);
                };
                let ids: Vec<i64> = match extension_id {
                    Some(id) => vec![id],
                    None => {
                        sqlx::query_scalar($crate::chain_queries::UNSEALED_EXTENSIONS)
                            .fetch_all(self.readers())
                            .await?
                    }
                };
                if ids.is_empty() {
                    return Ok(0);
                }
                self.ensure_heads(&ids).await?;
                let mut tx = self.begin_write().await?;
                let mut heads = Self::lock_heads(&mut tx, &ids, root).await?;
                let sealed = Self::seal_unsealed(&mut tx, &mut heads).await?;
                Self::store_heads(&mut tx, &heads).await?;
                tx.commit().await?;
                Ok(sealed)
            }

            pub(crate) async fn walk_chain(
                &self,
                extension_id: i64,
            ) -> Result<$crate::ChainVerdict, $crate::StoreError> {
                use $crate::chain::{Links, Walk};
                let root = self.audit_root.required()?;
                self.seal_pending(Some(extension_id)).await?;
                let mut tx = self.begin_snapshot().await?;
                let Some(ends) = Self::chain_ends(&mut tx, extension_id).await? else {
                    let sealed: bool = sqlx::query_scalar($crate::chain_queries::HAS_SEALED)
                        .bind(extension_id)
                        .fetch_one(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    return Ok($crate::chain::without_chain_row(sealed));
                };
                let mut walk = Walk::new(ends, Links::Keyed(root.chain_key(extension_id)));
                let mut after = (ends.anchor_seq, i64::MAX);
                loop {
                    let rows =
                        Self::chain_page(&mut tx, extension_id, ends.anchor_seq, after).await?;
                    if !walk.push_page(rows, &mut after) {
                        break;
                    }
                }
                tx.commit().await?;
                Ok(walk.finish())
            }

            /// Upgrades every chain still unkeyed, one transaction each.
            pub(crate) async fn key_chains(
                &self,
                root: &lumio_core::AuditRootKey,
            ) -> Result<Vec<(i64, $crate::ChainVerdict)>, $crate::StoreError> {
                let ids: Vec<i64> = sqlx::query_scalar($crate::chain_queries::UNKEYED)
                    .fetch_all(self.readers())
                    .await?;
                let mut upgraded = Vec::new();
                for id in ids {
                    let mut tx = self.begin_write().await?;
                    if let Some(verdict) = Self::key_chain(&mut tx, id, root).await? {
                        upgraded.push((id, verdict));
                    }
                    tx.commit().await?;
                }
                Ok(upgraded)
            }

            /// Moves each keyed chain's anchor to its last sealed record stamped before
            /// `cutoff`, with an `audit.pruned` record saying so sealed in the same
            /// transaction, before retention removes those records.
            pub(crate) async fn move_anchors(
                &self,
                cutoff: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), $crate::StoreError> {
                use $crate::chain_queries::{LAST_BEFORE, MOVE_ANCHOR, TO_MOVE};
                let Some(root) = self.audit_root.get() else {
                    return Ok(()); // nothing sealed yet: records are kept, never removed unsealed
                };
                let cutoff = $crate::stamp::Stamp(cutoff);
                let ids: Vec<i64> = sqlx::query_scalar(TO_MOVE)
                    .bind(cutoff)
                    .fetch_all(self.readers())
                    .await?;
                if ids.is_empty() {
                    return Ok(());
                }
                let mut tx = self.begin_write().await?;
                let mut heads = Self::lock_heads(&mut tx, &ids, root).await?;
                // What is pending goes first, so the pruned record is the newest.
                Self::seal_unsealed(&mut tx, &mut heads).await?;
                let mut records = Vec::new();
                for id in heads.ids() {
                    let ends = Self::chain_ends(&mut tx, id).await?;
                    let Some(old_anchor) = ends.map(|e| e.anchor_seq) else {
                        continue;
                    };
                    let last: Option<(i64, Vec<u8>)> = sqlx::query_as(LAST_BEFORE)
                        .bind(id)
                        .bind(cutoff)
                        .fetch_optional(&mut *tx)
                        .await?;
                    let Some((seq, hash)) = last else { continue };
                    if seq <= old_anchor {
                        continue;
                    }
                    let hash = $crate::chain::hash_column(hash)?;
                    sqlx::query(MOVE_ANCHOR)
                        .bind(id)
                        .bind(seq)
                        .bind(hash.to_vec())
                        .execute(&mut *tx)
                        .await?;
                    let detail = lumio_core::pruned_detail(seq, &hash, seq - old_anchor);
                    let event = lumio_core::AuditEvent::AuditPruned;
                    records.push($crate::chain::system_record(id, event, detail));
                }
                Self::insert_sealed(&mut tx, &records, &mut heads).await?;
                Self::store_heads(&mut tx, &heads).await?;
                tx.commit().await?;
                Ok(())
            }

            /// Writes the moved heads back, under the locks taken by `lock_heads`.
            pub(crate) async fn store_heads(
                conn: &mut <$db as sqlx::Database>::Connection,
                heads: &$crate::chain::Heads,
            ) -> Result<(), $crate::StoreError> {
                if heads.moved() {
                    <$db as $crate::dialect::Dialect>::write_heads(conn, heads).await?;
                }
                Ok(())
            }

            /// One keyset page of a chain after its anchor, in (seq, id) order.
            async fn chain_page(
                conn: &mut <$db as sqlx::Database>::Connection,
                extension_id: i64,
                anchor_seq: i64,
                after: (i64, i64),
            ) -> Result<Vec<$crate::ChainedEntry>, $crate::StoreError> {
                let rows: Vec<$crate::audit::ChainedRow> =
                    sqlx::query_as(&$crate::chain_queries::page())
                        .bind(extension_id)
                        .bind(after.0)
                        .bind(after.1)
                        .bind(anchor_seq)
                        .bind($crate::chain::VERIFY_PAGE)
                        .fetch_all(&mut *conn)
                        .await?;
                rows.into_iter()
                    .map($crate::audit::ChainedRow::walked)
                    .collect()
            }

            /// A chain's ends; `None` if its row is missing.
            async fn chain_ends(
                conn: &mut <$db as sqlx::Database>::Connection,
                extension_id: i64,
            ) -> Result<Option<$crate::chain::Ends>, $crate::StoreError> {
                let row: Option<$crate::chain_queries::EndsRow> =
                    sqlx::query_as($crate::chain_queries::ENDS)
                        .bind(extension_id)
                        .fetch_optional(&mut *conn)
                        .await?;
                row.map($crate::chain_queries::ends).transpose()
            }

            /// Checks one chain under the unkeyed encoding and links every record after
            /// its anchor again under its key, under the chain row's lock (the caller's
            /// write transaction); `None` if it was keyed already.
            async fn key_chain(
                conn: &mut <$db as sqlx::Database>::Connection,
                extension_id: i64,
                root: &lumio_core::AuditRootKey,
            ) -> Result<Option<$crate::ChainVerdict>, $crate::StoreError> {
                use $crate::chain::{keyed_detail, system_record, Heads, Links, Walk};
                let lock = format!(
                    "SELECT keyed FROM ext_audit_chain WHERE extension_id = $1{}",
                    <$db as $crate::dialect::Dialect>::ROW_LOCK
                );
                let keyed: Option<bool> = sqlx::query_scalar(&lock)
                    .bind(extension_id)
                    .fetch_optional(&mut *conn)
                    .await?;
                if keyed != Some(false) {
                    return Ok(None);
                }
                let Some(ends) = Self::chain_ends(conn, extension_id).await? else {
                    return Ok(None);
                };
                let mut walk = Walk::new(ends, Links::V1);
                let links = Links::Keyed(root.chain_key(extension_id));
                let (mut previous, mut last_seq) = (ends.anchor_hash, ends.anchor_seq);
                let mut after = (ends.anchor_seq, i64::MAX);
                loop {
                    let rows = Self::chain_page(conn, extension_id, ends.anchor_seq, after).await?;
                    let full = rows.len() as i64 == $crate::chain::VERIFY_PAGE;
                    let mut page = $crate::chain::Relinked {
                        extension_id,
                        ids: Vec::new(),
                        hashes: Vec::new(),
                    };
                    for row in &rows {
                        let seq = row.seq.unwrap_or_default();
                        previous = links.link(&previous, seq, &row.entry.record);
                        last_seq = seq;
                        page.ids.push(row.entry.id);
                        page.hashes.push(previous.to_vec());
                    }
                    <$db as $crate::dialect::Dialect>::rewrite_hashes(conn, &page).await?;
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
                sqlx::query($crate::chain_queries::KEYED)
                    .bind(extension_id)
                    .bind(head_hash.to_vec())
                    .execute(&mut *conn)
                    .await?;
                let mut heads = Heads::new(root.clone());
                heads.insert(extension_id, ends.head_seq, head_hash);
                let record = system_record(
                    extension_id,
                    lumio_core::AuditEvent::AuditChainKeyed,
                    keyed_detail(&ends, &verdict),
                );
                Self::insert_sealed(conn, &[record], &mut heads).await?;
                Self::store_heads(conn, &heads).await?;
                Ok(Some(verdict))
            }
        }
    };
}
pub(crate) use chain_queries;
