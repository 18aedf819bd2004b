//! Token SQL both backends share; only the timestamp columns differ in type.

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

/// A token row with the backend's timestamp type `T`.
pub(crate) type Row<T> = (
    String,
    Vec<u8>,
    bool,
    Option<i64>,
    Option<String>,
    Option<String>,
    String,
    T,
    Option<String>,
    Option<T>,
    Option<T>,
);

/// A row as a [`crate::TokenRecord`], with `time` converting the backend's timestamps.
pub(crate) fn record<T>(
    row: Row<T>,
    time: impl Fn(T) -> Result<chrono::DateTime<chrono::Utc>, crate::StoreError>,
) -> Result<crate::TokenRecord, crate::StoreError> {
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
        created_at: time(created_at)?,
        created_by,
        expires_at: expires_at.map(&time).transpose()?,
        last_used_at: last_used_at.map(&time).transpose()?,
    })
}

/// What a revocation that changed nothing means: no such live token, or the last admin.
pub(crate) fn unrevoked(live_is_admin: Option<bool>) -> crate::Revocation {
    match live_is_admin {
        Some(true) => crate::Revocation::LastAdmin,
        _ => crate::Revocation::Missing,
    }
}
