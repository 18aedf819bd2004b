//! Tokens, the same SQL on both backends.

use crate::stamp::{time, Stamp};

/// Columns of a token row, in the order [`Row`] holds them.
pub(crate) const COLUMNS: &str = "id, secret_hash, is_admin, extension_id, role, environment, \
     label, created_at, created_by, expires_at, last_used_at";

pub(crate) const INSERT: &str = "INSERT INTO tokens \
     (id, secret_hash, is_admin, extension_id, role, environment, label, created_at, created_by, \
     expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

/// Revokes `$1` unless it is an admin token and no other live admin token without scope
/// or expiry remains; one statement, so the check and the write see the same rows.
pub(crate) const REVOKE: &str = "UPDATE tokens SET revoked_at = $2, revoked_by = $3 \
     WHERE id = $1 AND revoked_at IS NULL AND (NOT is_admin OR EXISTS ( \
       SELECT 1 FROM tokens AS other WHERE other.is_admin AND other.id <> $1 \
       AND other.revoked_at IS NULL AND other.environment IS NULL AND other.expires_at IS NULL))";

/// Whether a live token `$1` exists and is an admin, after [`REVOKE`] changed nothing.
pub(crate) const LIVE_IS_ADMIN: &str =
    "SELECT is_admin FROM tokens WHERE id = $1 AND revoked_at IS NULL";

pub(crate) const TOUCH: &str = "UPDATE tokens SET last_used_at = $2 \
     WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2)";

/// A token row, as [`COLUMNS`] lists it.
pub(crate) type Row = (
    String,
    Vec<u8>,
    bool,
    Option<i64>,
    Option<String>,
    Option<String>,
    String,
    Stamp,
    Option<String>,
    Option<Stamp>,
    Option<Stamp>,
);

pub(crate) fn record(row: Row) -> Result<crate::TokenRecord, crate::StoreError> {
    let (
        id,
        hash,
        is_admin,
        extension_id,
        role,
        environment,
        label,
        created_at,
        created_by,
        expires_at,
        last_used_at,
    ) = row;
    Ok(crate::TokenRecord {
        id,
        secret_hash: crate::rows::secret_hash(hash)?,
        grant: crate::rows::grant(is_admin, extension_id, role.as_deref())?,
        environment: environment
            .as_deref()
            .map(crate::rows::environment)
            .transpose()?,
        label,
        created_at: created_at.0,
        created_by,
        expires_at: time(expires_at),
        last_used_at: time(last_used_at),
    })
}

// What a revocation that changed nothing means: no such live token, or the last admin.
pub(crate) fn unrevoked(live_is_admin: Option<bool>) -> crate::Revocation {
    match live_is_admin {
        Some(true) => crate::Revocation::LastAdmin,
        _ => crate::Revocation::Missing,
    }
}

/// Live tokens, all or (`$1`) one by id or (`$2`) one extension's.
pub(crate) fn select() -> String {
    format!(
        "SELECT {COLUMNS} FROM tokens WHERE revoked_at IS NULL \
         AND (CAST($1 AS TEXT) IS NULL OR id = $1) \
         AND (CAST($2 AS BIGINT) IS NULL OR extension_id = $2) ORDER BY created_at, id"
    )
}

/// Taken before [`REVOKE`] where a row lock exists (PostgreSQL): under READ COMMITTED two
/// admins revoking each other at once would each still see the other live; locking the
/// live admin rows first makes the second wait and then see the first's revocation.
/// SQLite runs one write statement at a time across every process on the file, so the
/// check inside [`REVOKE`] cannot race there.
pub(crate) const LOCK_LIVE_ADMINS: &str =
    "SELECT id FROM tokens WHERE is_admin AND revoked_at IS NULL";

/// The token methods as inherent methods of a store on `$db` (see [`crate::store_impl`]).
macro_rules! token_queries {
    ($store:ty, $db:ty) => {
        impl $store {
            pub(crate) async fn insert_token_row(
                &self,
                token: &$crate::TokenRecord,
                audit: &[$crate::AuditRecord],
            ) -> Result<(), $crate::StoreError> {
                use $crate::stamp::{stamp, Stamp};
                let (is_admin, extension_id, role) = $crate::rows::grant_columns(&token.grant);
                let mut tx = self.begin_write().await?;
                sqlx::query($crate::tokens::INSERT)
                    .bind(&token.id)
                    .bind(&token.secret_hash[..])
                    .bind(is_admin)
                    .bind(extension_id)
                    .bind(role)
                    .bind(token.environment.map(|e| e.as_str()))
                    .bind(&token.label)
                    .bind(Stamp(token.created_at))
                    .bind(&token.created_by)
                    .bind(stamp(token.expires_at))
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| $crate::rows::conflict_or(e, || format!("token {}", token.id)))?;
                // The first owner token claims its extension (a hand-over; claim codes are
                // the other way): from then on admins stay out of it.
                let claimed = match $crate::rows::owned_extension(&token.grant) {
                    Some(extension_id) => sqlx::query($crate::staff::MARK_CLAIMED)
                        .bind(extension_id)
                        .bind(Stamp(token.created_at))
                        .bind(&token.id)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected()
                        .eq(&1)
                        .then_some(extension_id),
                    None => None,
                };
                Self::insert_change_records(&mut tx, audit).await?;
                tx.commit().await?;
                if let Some(extension_id) = claimed {
                    self.tell([$crate::Change::Extension { extension_id }])
                        .await;
                }
                Ok(())
            }

            pub(crate) async fn select_tokens(
                &self,
                id: Option<&str>,
                extension_id: Option<i64>,
            ) -> Result<Vec<$crate::TokenRecord>, $crate::StoreError> {
                let rows: Vec<$crate::tokens::Row> = sqlx::query_as(&$crate::tokens::select())
                    .bind(id)
                    .bind(extension_id)
                    .fetch_all(self.readers())
                    .await?;
                rows.into_iter().map($crate::tokens::record).collect()
            }

            pub(crate) async fn revoke_token_row(
                &self,
                id: &str,
                by: &str,
                at: chrono::DateTime<chrono::Utc>,
                audit: &[$crate::AuditRecord],
            ) -> Result<$crate::Revocation, $crate::StoreError> {
                let mut tx = self.begin_write().await?;
                let row_lock = <$db as $crate::dialect::Dialect>::ROW_LOCK;
                if !row_lock.is_empty() {
                    let lock = format!("{}{row_lock}", $crate::tokens::LOCK_LIVE_ADMINS);
                    sqlx::query(&lock).execute(&mut *tx).await?;
                }
                let done = sqlx::query($crate::tokens::REVOKE)
                    .bind(id)
                    .bind($crate::stamp::Stamp(at))
                    .bind(by)
                    .execute(&mut *tx)
                    .await?;
                let outcome = if done.rows_affected() == 1 {
                    Self::insert_change_records(&mut tx, audit).await?;
                    $crate::Revocation::Revoked
                } else {
                    let live_is_admin = sqlx::query_scalar($crate::tokens::LIVE_IS_ADMIN)
                        .bind(id)
                        .fetch_optional(&mut *tx)
                        .await?;
                    $crate::tokens::unrevoked(live_is_admin)
                };
                tx.commit().await?;
                if outcome == $crate::Revocation::Revoked {
                    self.tell([$crate::Change::TokenRevoked { id: id.to_owned() }])
                        .await;
                }
                Ok(outcome)
            }

            pub(crate) async fn touch_token_row(
                &self,
                id: &str,
                at: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), $crate::StoreError> {
                sqlx::query($crate::tokens::TOUCH)
                    .bind(id)
                    .bind($crate::stamp::Stamp(at))
                    .execute(self.writer())
                    .await?;
                Ok(())
            }
        }
    };
}
pub(crate) use token_queries;
