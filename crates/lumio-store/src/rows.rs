//! Conversions shared by both backends between columns and model types.

use std::collections::HashSet;

use chrono::{DateTime, SubsecRound, Utc};
use lumio_core::{
    AllowedHosts, AuditEvent, DueUpdate, Environment, ExtensionSlug, Period, Role, SecretName,
};

use crate::{Grant, NewVersion, StoreError};

/// The current time at microsecond precision, the precision both backends keep, so a
/// timestamp reads back exactly as it was written.
pub(crate) fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

pub(crate) fn environment(column: &str) -> Result<Environment, StoreError> {
    Environment::parse(column).map_err(|_| corrupt("environment", column))
}

pub(crate) fn audit_event(column: &str) -> Result<AuditEvent, StoreError> {
    AuditEvent::parse(column).ok_or_else(|| corrupt("audit event", column))
}

pub(crate) fn secret_name(column: &str) -> Result<SecretName, StoreError> {
    SecretName::parse(column).map_err(|_| corrupt("secret name", column))
}

pub(crate) fn extension_slug(column: &str) -> Result<ExtensionSlug, StoreError> {
    ExtensionSlug::parse(column).map_err(|_| corrupt("extension slug", column))
}

pub(crate) fn secret_hash(column: Vec<u8>) -> Result<[u8; 32], StoreError> {
    column.try_into().map_err(|bytes: Vec<u8>| {
        StoreError::Corrupt(format!("token hash of {} bytes", bytes.len()))
    })
}

/// Splits a grant into the `tokens` columns (is_admin, extension_id, role).
pub(crate) fn grant_columns(grant: &Grant) -> (bool, Option<i64>, Option<&'static str>) {
    match grant {
        Grant::Admin => (true, None, None),
        Grant::Extension { extension_id, role } => {
            (false, Some(*extension_id), Some(role.as_str()))
        }
    }
}

/// The extension a grant owns, if it is an owner's.
pub(crate) fn owned_extension(grant: &Grant) -> Option<i64> {
    match grant {
        Grant::Extension {
            extension_id,
            role: Role::Owner,
        } => Some(*extension_id),
        _ => None,
    }
}

pub(crate) fn grant(
    is_admin: bool,
    extension_id: Option<i64>,
    role: Option<&str>,
) -> Result<Grant, StoreError> {
    match (is_admin, extension_id, role) {
        (true, None, None) => Ok(Grant::Admin),
        (false, Some(extension_id), Some(role)) => Ok(Grant::Extension {
            extension_id,
            role: Role::parse(role).map_err(|_| corrupt("role", role))?,
        }),
        _ => Err(StoreError::Corrupt("token grant columns disagree".into())),
    }
}

/// Checks what the trait promises callers must uphold, before any SQL runs.
pub(crate) fn check_writes(writes: &[NewVersion]) -> Result<(), StoreError> {
    // A version that is not `expected_latest + 1` would break the version sequence, and a
    // name written twice in one batch could not be checked against one head; both are
    // treated like any other stale write.
    let mut names = HashSet::with_capacity(writes.len());
    let bad = writes.iter().any(|w| {
        w.expected_latest < 0 || w.version != w.expected_latest + 1 || !names.insert(&w.name)
    });
    if bad {
        return Err(StoreError::VersionConflict);
    }
    Ok(())
}

/// Database error codes that mean "someone else wrote first" during a secret write:
/// unique violation (both backends), deadlock and serialization failure (PostgreSQL).
pub(crate) fn is_write_race(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => {
            db.is_unique_violation() || matches!(db.code().as_deref(), Some("40P01" | "40001"))
        }
        _ => false,
    }
}

/// Maps a unique violation to [`StoreError::Conflict`] naming `what`.
pub(crate) fn conflict_or(err: sqlx::Error, what: impl FnOnce() -> String) -> StoreError {
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(what()),
        _ => StoreError::Database(err),
    }
}

pub(crate) fn corrupt(what: &str, column: &str) -> StoreError {
    // Only identifiers reach here, never sealed bytes; clip in case a row is garbage.
    let shown: String = column.chars().take(64).collect();
    StoreError::Corrupt(format!("{what} {shown:?}"))
}

/// A deployment's action names as stored: newline-separated (names never hold newlines).
pub(crate) fn actions_column(actions: &[String]) -> String {
    actions.join("\n")
}

pub(crate) fn actions(column: &str) -> Vec<String> {
    column.lines().map(str::to_owned).collect()
}

/// A binding as stored: one pattern per line (patterns never hold newlines); `None` is NULL.
pub(crate) fn hosts_column(hosts: Option<&AllowedHosts>) -> Option<String> {
    hosts.map(|hosts| hosts.to_strings().join("\n"))
}

/// A rotation period as stored (seconds, or NULL).
pub(crate) fn rotate_every(column: Option<i64>) -> Result<Option<Period>, StoreError> {
    column
        .map(|secs| {
            Period::from_secs(secs).ok_or_else(|| corrupt("rotation period", &secs.to_string()))
        })
        .transpose()
}

/// A rotation change as two columns: whether to replace the stored period, and with what
/// (NULL clears).
pub(crate) fn rotation_columns(update: DueUpdate<Period>) -> (bool, Option<i64>) {
    match update {
        DueUpdate::Keep => (false, None),
        DueUpdate::Set(period) => (true, Some(period.secs())),
        DueUpdate::Clear => (true, None),
    }
}

pub(crate) fn allowed_hosts(column: Option<&str>) -> Result<Option<AllowedHosts>, StoreError> {
    column
        .map(|text| AllowedHosts::parse(text.lines()).map_err(|_| corrupt("allowed hosts", text)))
        .transpose()
}
