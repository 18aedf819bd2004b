//! SQL both backends share for extensions' lifecycle (claim, suspend, delete) and staff
//! support access.

use crate::stamp::{time, Stamp};

/// Columns of an extension row, in the order [`ExtensionRow`] holds them.
pub(crate) const EXTENSION_COLUMNS: &str =
    "id, slug, created_at, claimed_at, claimed_by, suspended_at";

pub(crate) type ExtensionRow = (
    i64,
    String,
    Stamp,
    Option<Stamp>,
    Option<String>,
    Option<Stamp>,
);

pub(crate) fn extension(row: ExtensionRow) -> Result<crate::Extension, crate::StoreError> {
    let (id, slug, created_at, claimed_at, claimed_by, suspended_at) = row;
    Ok(crate::Extension {
        id,
        slug: crate::rows::extension_slug(&slug)?,
        created_at: created_at.0,
        claimed_at: time(claimed_at),
        claimed_by,
        suspended_at: time(suspended_at),
    })
}

pub(crate) const INSERT_EXTENSION: &str =
    "INSERT INTO extensions (slug, created_at) VALUES ($1, $2) RETURNING id";

/// Marks extension `$1` as claimed at `$2` by token `$3`, unless it has an owner already.
pub(crate) const MARK_CLAIMED: &str = "UPDATE extensions SET claimed_at = $2, claimed_by = $3 \
     WHERE id = $1 AND claimed_at IS NULL";

pub(crate) const INSERT_CLAIM: &str = "INSERT INTO extension_claims \
     (code_hash, extension_id, created_at, created_by, expires_at) VALUES ($1, $2, $3, $4, $5)";

/// Uses code `$1` at `$2` for token `$3` if it is unused and unexpired; one statement, so
/// two redeemers cannot both use it.
pub(crate) const USE_CLAIM: &str = "UPDATE extension_claims SET used_at = $2, used_by = $3 \
     WHERE code_hash = $1 AND used_at IS NULL AND expires_at > $2 RETURNING extension_id";

/// Why [`USE_CLAIM`] changed nothing: (expires_at, used_at, used_by).
pub(crate) const CLAIM_STATE: &str =
    "SELECT expires_at, used_at, used_by FROM extension_claims WHERE code_hash = $1";

/// A row of [`CLAIM_STATE`].
pub(crate) type ClaimState = (Stamp, Option<Stamp>, Option<String>);

/// What a code that could not be used tells its redeemer.
pub(crate) fn unusable(state: Option<ClaimState>) -> crate::ClaimOutcome {
    match state {
        None => crate::ClaimOutcome::Missing,
        Some((_, Some(used_at), by)) => crate::ClaimOutcome::Used {
            at: used_at.0,
            by: by.unwrap_or_default(),
        },
        Some((expires_at, None, _)) => crate::ClaimOutcome::Expired { at: expires_at.0 },
    }
}

pub(crate) const SET_SUSPENDED: &str = "UPDATE extensions SET suspended_at = $2 WHERE id = $1";

/// Everything of extension `$1`, children first; the last statement removes the row.
/// Tokens go too (their sessions first), so the name can be used again.
pub(crate) const DELETE_EXTENSION: [&str; 15] = [
    "DELETE FROM dashboard_sessions WHERE token_id IN (SELECT id FROM tokens WHERE extension_id = $1)",
    "DELETE FROM tokens WHERE extension_id = $1",
    "DELETE FROM ext_deployments WHERE extension_id = $1",
    "DELETE FROM ext_secrets WHERE extension_id = $1",
    "DELETE FROM ext_secret_heads WHERE extension_id = $1",
    "DELETE FROM ext_audit_log WHERE extension_id = $1",
    "DELETE FROM ext_audit_chain WHERE extension_id = $1",
    "DELETE FROM extension_claims WHERE extension_id = $1",
    "DELETE FROM access_requests WHERE extension_id = $1",
    "DELETE FROM ext_invocation_logs WHERE extension_id = $1",
    "DELETE FROM ext_webhook_deliveries WHERE extension_id = $1",
    "DELETE FROM ext_webhooks WHERE extension_id = $1",
    "DELETE FROM ext_events WHERE extension_id = $1",
    "DELETE FROM ext_secret_notices WHERE extension_id = $1",
    "DELETE FROM extensions WHERE id = $1",
];

pub(crate) const ACCESS_COLUMNS: &str = "id, extension_id, token_id, staff, reason, \
     duration_secs, created_at, approved_at, approved_by, expires_at, revoked_at, revoked_by";

pub(crate) const INSERT_ACCESS: &str = "INSERT INTO access_requests \
     (id, extension_id, token_id, staff, reason, duration_secs, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7)";

/// `$1`..`$3`: extension id, token id, request id; each NULL for any.
pub(crate) fn select_access() -> String {
    format!(
        "SELECT {ACCESS_COLUMNS} FROM access_requests \
         WHERE (CAST($1 AS BIGINT) IS NULL OR extension_id = $1) \
         AND (CAST($2 AS TEXT) IS NULL OR token_id = $2) \
         AND (CAST($3 AS TEXT) IS NULL OR id = $3) ORDER BY created_at DESC, id"
    )
}

pub(crate) const APPROVE_ACCESS: &str = "UPDATE access_requests \
     SET approved_at = $2, approved_by = $3, expires_at = $4 \
     WHERE id = $1 AND approved_at IS NULL AND revoked_at IS NULL";

pub(crate) const REVOKE_ACCESS: &str =
    "UPDATE access_requests SET revoked_at = $2, revoked_by = $3 \
     WHERE id = $1 AND revoked_at IS NULL";

pub(crate) type AccessRow = (
    String,
    i64,
    String,
    String,
    String,
    i64,
    Stamp,
    Option<Stamp>,
    Option<String>,
    Option<Stamp>,
    Option<Stamp>,
    Option<String>,
);

pub(crate) fn access_request(row: AccessRow) -> crate::AccessRequest {
    let (
        id,
        extension_id,
        token_id,
        staff,
        reason,
        duration_secs,
        created_at,
        approved_at,
        approved_by,
        expires_at,
        revoked_at,
        revoked_by,
    ) = row;
    crate::AccessRequest {
        id,
        extension_id,
        token_id,
        staff,
        reason,
        duration_secs,
        created_at: created_at.0,
        approved_at: time(approved_at),
        approved_by,
        expires_at: time(expires_at),
        revoked_at: time(revoked_at),
        revoked_by,
    }
}

/// The extension-lifecycle and access-request methods as inherent methods of a store
/// (see [`crate::store_impl`]).
macro_rules! staff_queries {
    ($store:ty) => {
        impl $store {
            pub(crate) async fn extension_insert(
                &self,
                slug: &lumio_core::ExtensionSlug,
                audit: $crate::RecordsOf<'_, $crate::Extension>,
            ) -> Result<$crate::Extension, $crate::StoreError> {
                let created_at = $crate::rows::now();
                let mut tx = self.begin_write().await?;
                let id: i64 = sqlx::query_scalar($crate::staff::INSERT_EXTENSION)
                    .bind(slug.as_str())
                    .bind($crate::stamp::Stamp(created_at))
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(|e| $crate::rows::conflict_or(e, || format!("extension {slug}")))?;
                let extension = $crate::Extension {
                    id,
                    slug: slug.clone(),
                    created_at,
                    claimed_at: None,
                    claimed_by: None,
                    suspended_at: None,
                };
                Self::insert_change_records(&mut tx, &audit(&extension)).await?;
                tx.commit().await?;
                Ok(extension)
            }

            pub(crate) async fn extension_rows(
                &self,
                slug: Option<&lumio_core::ExtensionSlug>,
                id: Option<i64>,
            ) -> Result<Vec<$crate::Extension>, $crate::StoreError> {
                let sql = format!(
                    "SELECT {} FROM extensions WHERE (CAST($1 AS TEXT) IS NULL OR slug = $1) \
                     AND (CAST($2 AS BIGINT) IS NULL OR id = $2) ORDER BY slug",
                    $crate::staff::EXTENSION_COLUMNS
                );
                let rows: Vec<$crate::staff::ExtensionRow> = sqlx::query_as(&sql)
                    .bind(slug.map(|s| s.as_str()))
                    .bind(id)
                    .fetch_all(self.readers())
                    .await?;
                rows.into_iter().map($crate::staff::extension).collect()
            }

            pub(crate) async fn claim_insert(
                &self,
                claim: &$crate::ClaimRecord,
                audit: &[$crate::AuditRecord],
            ) -> Result<(), $crate::StoreError> {
                let mut tx = self.begin_write().await?;
                sqlx::query($crate::staff::INSERT_CLAIM)
                    .bind(&claim.code_hash[..])
                    .bind(claim.extension_id)
                    .bind($crate::stamp::Stamp(claim.created_at))
                    .bind(&claim.created_by)
                    .bind($crate::stamp::Stamp(claim.expires_at))
                    .execute(&mut *tx)
                    .await?;
                Self::insert_change_records(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }

            pub(crate) async fn claim_target(
                &self,
                code_hash: &[u8; 32],
            ) -> Result<Option<i64>, $crate::StoreError> {
                Ok(sqlx::query_scalar(
                    "SELECT extension_id FROM extension_claims WHERE code_hash = $1",
                )
                .bind(&code_hash[..])
                .fetch_optional(self.readers())
                .await?)
            }

            pub(crate) async fn claim_redeem(
                &self,
                code_hash: &[u8; 32],
                owner: &$crate::TokenRecord,
                audit: $crate::RecordsOf<'_, $crate::Extension>,
            ) -> Result<$crate::ClaimOutcome, $crate::StoreError> {
                let at = owner.created_at;
                let mut tx = self.begin_write().await?;
                let used: Option<i64> = sqlx::query_scalar($crate::staff::USE_CLAIM)
                    .bind(&code_hash[..])
                    .bind($crate::stamp::Stamp(at))
                    .bind(&owner.id)
                    .fetch_optional(&mut *tx)
                    .await?;
                let Some(extension_id) = used else {
                    let state: Option<$crate::staff::ClaimState> =
                        sqlx::query_as($crate::staff::CLAIM_STATE)
                            .bind(&code_hash[..])
                            .fetch_optional(&mut *tx)
                            .await?;
                    tx.rollback().await?;
                    return Ok($crate::staff::unusable(state));
                };
                let marked = sqlx::query($crate::staff::MARK_CLAIMED)
                    .bind(extension_id)
                    .bind($crate::stamp::Stamp(at))
                    .bind(&owner.id)
                    .execute(&mut *tx)
                    .await?;
                let row: $crate::staff::ExtensionRow = sqlx::query_as(&format!(
                    "SELECT {} FROM extensions WHERE id = $1",
                    $crate::staff::EXTENSION_COLUMNS
                ))
                .bind(extension_id)
                .fetch_one(&mut *tx)
                .await?;
                let extension = $crate::staff::extension(row)?;
                if marked.rows_affected() == 0 {
                    tx.rollback().await?;
                    return Ok($crate::ClaimOutcome::AlreadyClaimed {
                        at: extension.claimed_at,
                        by: extension.claimed_by,
                    });
                }
                let (is_admin, grant_extension, role) = $crate::rows::grant_columns(&owner.grant);
                sqlx::query($crate::tokens::INSERT)
                    .bind(&owner.id)
                    .bind(&owner.secret_hash[..])
                    .bind(is_admin)
                    .bind(grant_extension)
                    .bind(role)
                    .bind(owner.environment.map(|e| e.as_str()))
                    .bind(&owner.label)
                    .bind($crate::stamp::Stamp(owner.created_at))
                    .bind(&owner.created_by)
                    .bind(owner.expires_at.map($crate::stamp::Stamp))
                    .execute(&mut *tx)
                    .await?;
                Self::insert_change_records(&mut tx, &audit(&extension)).await?;
                tx.commit().await?;
                self.tell([$crate::Change::Extension { extension_id }])
                    .await;
                Ok($crate::ClaimOutcome::Claimed(extension))
            }

            pub(crate) async fn suspension_set(
                &self,
                extension_id: i64,
                at: Option<chrono::DateTime<chrono::Utc>>,
                audit: &[$crate::AuditRecord],
            ) -> Result<(), $crate::StoreError> {
                let mut tx = self.begin_write().await?;
                sqlx::query($crate::staff::SET_SUSPENDED)
                    .bind(extension_id)
                    .bind(at.map($crate::stamp::Stamp))
                    .execute(&mut *tx)
                    .await?;
                Self::insert_change_records(&mut tx, audit).await?;
                tx.commit().await?;
                self.tell([$crate::Change::Extension { extension_id }])
                    .await;
                Ok(())
            }

            pub(crate) async fn extension_delete(
                &self,
                extension_id: i64,
            ) -> Result<bool, $crate::StoreError> {
                let mut tx = self.begin_write().await?;
                let mut removed = 0;
                for sql in $crate::staff::DELETE_EXTENSION {
                    removed = sqlx::query(sql)
                        .bind(extension_id)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                }
                tx.commit().await?;
                self.tell([$crate::Change::Extension { extension_id }])
                    .await;
                Ok(removed == 1)
            }

            pub(crate) async fn access_insert(
                &self,
                request: &$crate::AccessRequest,
                audit: &[$crate::AuditRecord],
            ) -> Result<(), $crate::StoreError> {
                let mut tx = self.begin_write().await?;
                sqlx::query($crate::staff::INSERT_ACCESS)
                    .bind(&request.id)
                    .bind(request.extension_id)
                    .bind(&request.token_id)
                    .bind(&request.staff)
                    .bind(&request.reason)
                    .bind(request.duration_secs)
                    .bind($crate::stamp::Stamp(request.created_at))
                    .execute(&mut *tx)
                    .await?;
                Self::insert_change_records(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }

            pub(crate) async fn access_select(
                &self,
                filter: $crate::AccessFilter<'_>,
            ) -> Result<Vec<$crate::AccessRequest>, $crate::StoreError> {
                let rows: Vec<$crate::staff::AccessRow> =
                    sqlx::query_as(&$crate::staff::select_access())
                        .bind(filter.extension_id)
                        .bind(filter.token_id)
                        .bind(filter.id)
                        .fetch_all(self.readers())
                        .await?;
                Ok(rows
                    .into_iter()
                    .map($crate::staff::access_request)
                    .collect())
            }

            pub(crate) async fn access_change(
                &self,
                id: &str,
                change: &$crate::AccessChange,
                audit: &[$crate::AuditRecord],
            ) -> Result<bool, $crate::StoreError> {
                let mut tx = self.begin_write().await?;
                let done = match change {
                    $crate::AccessChange::Approve { at, by, expires_at } => {
                        sqlx::query($crate::staff::APPROVE_ACCESS)
                            .bind(id)
                            .bind($crate::stamp::Stamp(*at))
                            .bind(by)
                            .bind($crate::stamp::Stamp(*expires_at))
                            .execute(&mut *tx)
                            .await?
                    }
                    $crate::AccessChange::Revoke { at, by } => {
                        sqlx::query($crate::staff::REVOKE_ACCESS)
                            .bind(id)
                            .bind($crate::stamp::Stamp(*at))
                            .bind(by)
                            .execute(&mut *tx)
                            .await?
                    }
                };
                if done.rows_affected() == 0 {
                    tx.rollback().await?;
                    return Ok(false);
                }
                Self::insert_change_records(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(true)
            }
        }
    };
}
pub(crate) use staff_queries;
