//! The secret write path on SQLite: one statement per step, under the write lock.

use sqlx::SqliteConnection;

use super::SqliteStore;
use crate::secrets::Batch;
use crate::stamp::Stamp;
use crate::{rows, NewVersion, StoreError, KEPT_VERSIONS};

impl SqliteStore {
    /// Writes a checked, non-empty batch (see `Store::write_versions`).
    pub(super) async fn write(&self, batch: &Batch<'_>) -> Result<(), StoreError> {
        let now = Stamp(rows::now());
        let mut tx = self.begin_write().await?;
        let mut grows = false;
        for write in batch.writes {
            // Dropping the transaction on an error rolls it back.
            grows |= write_one(&mut tx, batch, write, now).await?;
        }
        if grows {
            Self::check_live_limit(&mut tx, batch).await?;
        }
        Self::insert_change_records(&mut tx, batch.audit).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Applies one write inside the caller's transaction. Returns whether it made a name live
/// that was not (new or deleted), which is when the live limit must be checked.
async fn write_one(
    conn: &mut SqliteConnection,
    batch: &Batch<'_>,
    write: &NewVersion,
    now: Stamp,
) -> Result<bool, StoreError> {
    let (extension_id, env) = (batch.extension_id, batch.environment.as_str());
    let old: Option<(i64, Option<i64>)> = sqlx::query_as(
        "SELECT latest_version, current_version FROM ext_secret_heads \
         WHERE extension_id = $1 AND environment = $2 AND name = $3",
    )
    .bind(extension_id)
    .bind(env)
    .bind(write.name.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    let (latest, was_live) =
        old.map_or((0, false), |(latest, current)| (latest, current.is_some()));
    if latest != write.expected_latest {
        return Err(StoreError::VersionConflict);
    }
    sqlx::query(
        "INSERT INTO ext_secrets \
         (extension_id, environment, name, version, sealed, kek_id, created_at, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(extension_id)
    .bind(env)
    .bind(write.name.as_str())
    .bind(write.version)
    .bind(&write.sealed[..])
    .bind(&write.kek_id)
    .bind(now)
    .bind(&write.actor)
    .execute(&mut *conn)
    .await
    .map_err(|e| {
        // The write lock is ours, so a duplicate row means the head and versions disagree.
        if rows::is_write_race(&e) {
            StoreError::VersionConflict
        } else {
            StoreError::Database(e)
        }
    })?;
    // A write without hosts keeps the binding the head has, and one that leaves the
    // rotation period alone ($10 false) keeps the period; the expiry and the rotation
    // clock's start belong to the new version.
    let (replace_rotation, every) = rows::rotation_columns(write.rotate_every);
    sqlx::query(
        "INSERT INTO ext_secret_heads \
         (extension_id, environment, name, current_version, latest_version, updated_at, updated_by, \
          allowed_hosts, expires_at, rotate_every_secs, current_set_at) \
         VALUES ($1, $2, $3, $4, $4, $5, $6, $7, $8, $9, $11) \
         ON CONFLICT (extension_id, environment, name) DO UPDATE SET \
         current_version = excluded.current_version, latest_version = excluded.latest_version, \
         updated_at = excluded.updated_at, updated_by = excluded.updated_by, \
         allowed_hosts = COALESCE(excluded.allowed_hosts, ext_secret_heads.allowed_hosts), \
         expires_at = excluded.expires_at, current_set_at = excluded.current_set_at, \
         rotate_every_secs = CASE WHEN $10 THEN excluded.rotate_every_secs \
                                  ELSE ext_secret_heads.rotate_every_secs END",
    )
    .bind(extension_id)
    .bind(env)
    .bind(write.name.as_str())
    .bind(write.version)
    .bind(now)
    .bind(&write.actor)
    .bind(rows::hosts_column(write.allowed_hosts.as_ref()))
    .bind(write.expires_at.map(Stamp))
    .bind(every)
    .bind(replace_rotation)
    .bind(Stamp(write.set_at))
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "DELETE FROM ext_secrets \
         WHERE extension_id = $1 AND environment = $2 AND name = $3 AND version <= $4",
    )
    .bind(extension_id)
    .bind(env)
    .bind(write.name.as_str())
    .bind(write.version - KEPT_VERSIONS)
    .execute(&mut *conn)
    .await?;
    Ok(!was_live)
}
