//! Secret versions and heads on PostgreSQL.

use chrono::{DateTime, Utc};
use lumio_core::{Environment, SecretName};

use super::audit::insert_change_records;
use super::PgStore;
use crate::{
    bindings, deletes, rows, AuditRecord, CurrentSecret, SealedVersion, SecretHead, StoreError,
    VersionInfo,
};

macro_rules! select_heads {
    ($where:literal) => {
        concat!(
            "SELECT name, current_version, latest_version, updated_at, updated_by, allowed_hosts \
             FROM ext_secret_heads WHERE extension_id = $1 AND environment = $2 AND ",
            $where
        )
    };
}
/// Scalar, unlike [`HEADS_NAMED`], so the cached generic plan is always a key lookup:
/// this runs before every set.
const HEAD_ONE: &str = select_heads!("name = $3");
const HEADS_NAMED: &str = select_heads!("name = ANY($3::text[])");
/// `COLLATE "C"`: byte order, as SQLite sorts, whatever the database's locale.
const HEADS_LIVE: &str = select_heads!("current_version IS NOT NULL ORDER BY name COLLATE \"C\"");

type HeadRow = (
    String,
    Option<i64>,
    i64,
    DateTime<Utc>,
    String,
    Option<String>,
);

fn head(row: HeadRow) -> Result<SecretHead, StoreError> {
    let (name, current_version, latest_version, updated_at, updated_by, hosts) = row;
    Ok(SecretHead {
        name: rows::secret_name(&name)?,
        current_version,
        latest_version,
        updated_at,
        updated_by,
        allowed_hosts: rows::allowed_hosts(hosts.as_deref())?,
    })
}

impl PgStore {
    pub(super) async fn select_head(
        &self,
        extension_id: i64,
        environment: Environment,
        name: &SecretName,
    ) -> Result<Option<SecretHead>, StoreError> {
        let row: Option<HeadRow> = sqlx::query_as(HEAD_ONE)
            .bind(extension_id)
            .bind(environment.as_str())
            .bind(name.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.map(head).transpose()
    }

    /// Heads of `names`, or all live heads ordered by name when `names` is `None`.
    pub(super) async fn select_heads(
        &self,
        extension_id: i64,
        environment: Environment,
        names: Option<&[SecretName]>,
    ) -> Result<Vec<SecretHead>, StoreError> {
        let rows: Vec<HeadRow> = match names {
            Some(names) => {
                let names: Vec<&str> = names.iter().map(SecretName::as_str).collect();
                sqlx::query_as(HEADS_NAMED)
                    .bind(extension_id)
                    .bind(environment.as_str())
                    .bind(names)
                    .fetch_all(&self.pool)
                    .await?
            }
            None => {
                sqlx::query_as(HEADS_LIVE)
                    .bind(extension_id)
                    .bind(environment.as_str())
                    .fetch_all(&self.pool)
                    .await?
            }
        };
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
        .fetch_optional(&self.pool)
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
            .fetch_optional(&self.pool)
            .await?;
        row.map(rows::current_secret).transpose()
    }

    pub(super) async fn select_history(
        &self,
        extension_id: i64,
        environment: Environment,
        name: &SecretName,
    ) -> Result<Vec<VersionInfo>, StoreError> {
        let rows: Vec<(i64, DateTime<Utc>, String, bool)> = sqlx::query_as(
            "SELECT s.version, s.created_at, s.created_by, \
                    COALESCE(s.version = h.current_version, false) \
             FROM ext_secrets s LEFT JOIN ext_secret_heads h \
               ON h.extension_id = s.extension_id AND h.environment = s.environment \
              AND h.name = s.name \
             WHERE s.extension_id = $1 AND s.environment = $2 AND s.name = $3 \
             ORDER BY s.version DESC",
        )
        .bind(extension_id)
        .bind(environment.as_str())
        .bind(name.as_str())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(version, created_at, created_by, current)| VersionInfo {
                version,
                created_at,
                created_by,
                current,
            })
            .collect())
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
        let mut tx = self.pool.begin().await?;
        let deleted = if purge {
            let heads = sqlx::query(deletes::PURGE_HEAD)
                .bind(extension_id)
                .bind(environment.as_str())
                .bind(name.as_str())
                .execute(&mut *tx)
                .await?;
            if heads.rows_affected() > 0 {
                sqlx::query(deletes::PURGE_VERSIONS)
                    .bind(extension_id)
                    .bind(environment.as_str())
                    .bind(name.as_str())
                    .execute(&mut *tx)
                    .await?;
            }
            heads.rows_affected() > 0
        } else {
            let done = sqlx::query(deletes::SOFT_DELETE)
                .bind(extension_id)
                .bind(environment.as_str())
                .bind(name.as_str())
                .bind(rows::now())
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
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(bindings::SET_BINDING)
            .bind(extension_id)
            .bind(environment.as_str())
            .bind(name.as_str())
            .bind(column)
            .bind(rows::now())
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
