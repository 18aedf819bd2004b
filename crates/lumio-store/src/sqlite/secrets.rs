//! The secret write path on SQLite, and reading several heads at once.

use lumio_core::{Environment, SecretName};
use sqlx::SqliteConnection;

use super::SqliteStore;
use crate::secrets::{select_heads, HeadRow};
use crate::stamp::Stamp;
use crate::{rows, AuditRecord, NewVersion, SecretHead, StoreError, KEPT_VERSIONS};

const HEADS_LIVE: &str = select_heads!("current_version IS NOT NULL ORDER BY name");

impl SqliteStore {
    pub(super) async fn write(
        &self,
        extension_id: i64,
        environment: Environment,
        writes: &[NewVersion],
        max_live: usize,
        audit: &[AuditRecord],
    ) -> Result<(), StoreError> {
        rows::check_writes(writes)?;
        if writes.is_empty() {
            return Ok(());
        }
        let now = Stamp(rows::now());
        let env = environment.as_str();
        let mut tx = self.begin_write().await?;
        let mut grows = false;
        for write in writes {
            match write_one(&mut tx, extension_id, env, write, now).await {
                Ok(adds_live) => grows |= adds_live,
                Err(err) => {
                    tx.rollback().await?;
                    return Err(err);
                }
            }
        }
        if grows {
            let live: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM ext_secret_heads \
                 WHERE extension_id = $1 AND environment = $2 AND current_version IS NOT NULL",
            )
            .bind(extension_id)
            .bind(env)
            .fetch_one(&mut *tx)
            .await?;
            let would_hold = usize::try_from(live).unwrap_or(usize::MAX);
            if would_hold > max_live {
                tx.rollback().await?;
                return Err(StoreError::TooManySecrets {
                    would_hold,
                    limit: max_live,
                });
            }
        }
        // Dropping the transaction on an error rolls it back.
        Self::insert_change_records(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Heads of `names`, or all live heads ordered by name when `names` is `None`.
    pub(super) async fn select_heads(
        &self,
        extension_id: i64,
        environment: Environment,
        names: Option<&[SecretName]>,
    ) -> Result<Vec<SecretHead>, StoreError> {
        let rows: Vec<HeadRow> = match names {
            Some([]) => return Ok(Vec::new()),
            Some(names) => {
                // `$3, $4, …`: one parameter per name.
                let list: Vec<String> = (3..names.len() + 3).map(|i| format!("${i}")).collect();
                let sql = format!(concat!(select_heads!("name IN ("), "{})"), list.join(", "));
                let mut query = sqlx::query_as(&sql)
                    .bind(extension_id)
                    .bind(environment.as_str());
                for name in names {
                    query = query.bind(name.as_str());
                }
                query.fetch_all(&self.readers).await?
            }
            None => {
                sqlx::query_as(HEADS_LIVE)
                    .bind(extension_id)
                    .bind(environment.as_str())
                    .fetch_all(&self.readers)
                    .await?
            }
        };
        rows.into_iter().map(HeadRow::head).collect()
    }
}

/// Applies one write inside the caller's transaction. Returns whether it made a name live
/// that was not (new or deleted), which is when the live limit must be checked.
async fn write_one(
    conn: &mut SqliteConnection,
    extension_id: i64,
    env: &str,
    write: &NewVersion,
    now: Stamp,
) -> Result<bool, StoreError> {
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
    // A write without hosts keeps the binding the head has.
    sqlx::query(
        "INSERT INTO ext_secret_heads \
         (extension_id, environment, name, current_version, latest_version, updated_at, updated_by, \
          allowed_hosts) \
         VALUES ($1, $2, $3, $4, $4, $5, $6, $7) \
         ON CONFLICT (extension_id, environment, name) DO UPDATE SET \
         current_version = excluded.current_version, latest_version = excluded.latest_version, \
         updated_at = excluded.updated_at, updated_by = excluded.updated_by, \
         allowed_hosts = COALESCE(excluded.allowed_hosts, ext_secret_heads.allowed_hosts)",
    )
    .bind(extension_id)
    .bind(env)
    .bind(write.name.as_str())
    .bind(write.version)
    .bind(now)
    .bind(&write.actor)
    .bind(rows::hosts_column(write.allowed_hosts.as_ref()))
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
