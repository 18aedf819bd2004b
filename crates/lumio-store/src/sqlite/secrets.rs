//! Secret versions and heads on SQLite.

use lumio_core::{Environment, SecretName};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

use super::audit::insert_change_records;
use super::{from_micros, micros, SqliteStore};
use crate::{
    bindings, deletes, rows, AuditRecord, CurrentSecret, NewVersion, SealedVersion, SecretHead,
    StoreError, VersionInfo, KEPT_VERSIONS,
};

/// `BEGIN IMMEDIATE` takes the file's write lock up front, so the version check below
/// cannot be passed by two writers at once, even from two processes.
const BEGIN_WRITE: &str = "BEGIN IMMEDIATE";

const HEAD_COLUMNS: &str =
    "name, current_version, latest_version, updated_at, updated_by, allowed_hosts";

type HeadRow = (String, Option<i64>, i64, i64, String, Option<String>);

fn head(row: HeadRow) -> Result<SecretHead, StoreError> {
    let (name, current_version, latest_version, updated_at, updated_by, hosts) = row;
    Ok(SecretHead {
        name: rows::secret_name(&name)?,
        current_version,
        latest_version,
        updated_at: from_micros(updated_at)?,
        updated_by,
        allowed_hosts: rows::allowed_hosts(hosts.as_deref())?,
    })
}

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
        let now = micros(rows::now());
        let env = environment.as_str();
        let mut tx = self.writer.begin_with(BEGIN_WRITE).await?;
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
        insert_change_records(&mut tx, audit).await?;
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
        let mut sql = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {HEAD_COLUMNS} FROM ext_secret_heads WHERE extension_id = "
        ));
        sql.push_bind(extension_id)
            .push(" AND environment = ")
            .push_bind(environment.as_str());
        match names {
            Some([]) => return Ok(Vec::new()),
            Some(names) => {
                sql.push(" AND name IN (");
                let mut list = sql.separated(", ");
                for name in names {
                    list.push_bind(name.as_str());
                }
                sql.push(")");
            }
            None => {
                sql.push(" AND current_version IS NOT NULL ORDER BY name");
            }
        }
        let rows: Vec<HeadRow> = sql.build_query_as().fetch_all(&self.readers).await?;
        rows.into_iter().map(head).collect()
    }

    pub(super) async fn select_version(
        &self,
        extension_id: i64,
        environment: Environment,
        name: &SecretName,
        version: i64,
    ) -> Result<Option<SealedVersion>, StoreError> {
        let row: Option<(i64, Vec<u8>, String)> = sqlx::query_as(
            "SELECT version, sealed, kek_id FROM ext_secrets \
             WHERE extension_id = $1 AND environment = $2 AND name = $3 AND version = $4",
        )
        .bind(extension_id)
        .bind(environment.as_str())
        .bind(name.as_str())
        .bind(version)
        .fetch_optional(&self.readers)
        .await?;
        Ok(row.map(|(version, sealed, kek_id)| SealedVersion {
            version,
            sealed,
            kek_id,
        }))
    }

    pub(super) async fn select_current(
        &self,
        extension_id: i64,
        environment: Environment,
        name: &SecretName,
    ) -> Result<Option<CurrentSecret>, StoreError> {
        let row: Option<rows::CurrentRow> = sqlx::query_as(rows::SELECT_CURRENT)
            .bind(extension_id)
            .bind(environment.as_str())
            .bind(name.as_str())
            .fetch_optional(&self.readers)
            .await?;
        row.map(rows::current_secret).transpose()
    }

    pub(super) async fn select_history(
        &self,
        extension_id: i64,
        environment: Environment,
        name: &SecretName,
    ) -> Result<Vec<VersionInfo>, StoreError> {
        let rows: Vec<(i64, i64, String, bool)> = sqlx::query_as(
            "SELECT s.version, s.created_at, s.created_by, \
                    COALESCE(s.version = h.current_version, 0) \
             FROM ext_secrets s LEFT JOIN ext_secret_heads h \
               ON h.extension_id = s.extension_id AND h.environment = s.environment \
              AND h.name = s.name \
             WHERE s.extension_id = $1 AND s.environment = $2 AND s.name = $3 \
             ORDER BY s.version DESC",
        )
        .bind(extension_id)
        .bind(environment.as_str())
        .bind(name.as_str())
        .fetch_all(&self.readers)
        .await?;
        rows.into_iter()
            .map(|(version, created_at, created_by, current)| {
                Ok(VersionInfo {
                    version,
                    created_at: from_micros(created_at)?,
                    created_by,
                    current,
                })
            })
            .collect()
    }

    pub(super) async fn delete(
        &self,
        extension_id: i64,
        environment: Environment,
        name: &SecretName,
        actor: &str,
        purge: bool,
        audit: &[AuditRecord],
    ) -> Result<bool, StoreError> {
        let env = environment.as_str();
        let mut tx = self.writer.begin_with(BEGIN_WRITE).await?;
        let deleted = if purge {
            let heads = sqlx::query(deletes::PURGE_HEAD)
                .bind(extension_id)
                .bind(env)
                .bind(name.as_str())
                .execute(&mut *tx)
                .await?;
            if heads.rows_affected() > 0 {
                sqlx::query(deletes::PURGE_VERSIONS)
                    .bind(extension_id)
                    .bind(env)
                    .bind(name.as_str())
                    .execute(&mut *tx)
                    .await?;
            }
            heads.rows_affected() > 0
        } else {
            let done = sqlx::query(deletes::SOFT_DELETE)
                .bind(extension_id)
                .bind(env)
                .bind(name.as_str())
                .bind(micros(rows::now()))
                .bind(actor)
                .execute(&mut *tx)
                .await?;
            done.rows_affected() > 0
        };
        if !deleted {
            tx.rollback().await?;
            return Ok(false);
        }
        insert_change_records(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    pub(super) async fn bind(
        &self,
        extension_id: i64,
        environment: Environment,
        name: &SecretName,
        column: Option<String>,
        actor: &str,
        audit: &[AuditRecord],
    ) -> Result<bool, StoreError> {
        let mut tx = self.writer.begin_with(BEGIN_WRITE).await?;
        let done = sqlx::query(bindings::SET_BINDING)
            .bind(extension_id)
            .bind(environment.as_str())
            .bind(name.as_str())
            .bind(column)
            .bind(micros(rows::now()))
            .bind(actor)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        insert_change_records(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(true)
    }
}

/// Applies one write inside the caller's transaction. Returns whether it made a name live
/// that was not (new or deleted), which is when the live limit must be checked.
async fn write_one(
    conn: &mut SqliteConnection,
    extension_id: i64,
    env: &str,
    write: &NewVersion,
    now: i64,
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
