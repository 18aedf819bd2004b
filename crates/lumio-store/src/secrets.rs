//! Secret heads and versions, the same SQL on both backends (`$1` extension, `$2`
//! environment, `$3` name). Only the write path differs.

use lumio_core::Environment;

use crate::stamp::Stamp;
use crate::{
    rows, AuditRecord, CurrentSecret, DueSecret, NewVersion, SealedVersion, SecretHead, StoreError,
    VersionInfo,
};

/// One [`crate::Store::write_versions`] call, checked and not empty, as a backend's write
/// path takes it.
pub(crate) struct Batch<'a> {
    pub extension_id: i64,
    pub environment: Environment,
    pub writes: &'a [NewVersion],
    pub max_live: usize,
    pub audit: &'a [AuditRecord],
}

/// Live secrets of one extension and environment, once a batch made some live.
pub(crate) const COUNT_LIVE: &str = "SELECT count(*) FROM ext_secret_heads \
     WHERE extension_id = $1 AND environment = $2 AND current_version IS NOT NULL";

/// [`StoreError::TooManySecrets`] when `live` exceeds the batch's limit.
pub(crate) fn live_limit(live: i64, batch: &Batch<'_>) -> Result<(), StoreError> {
    let would_hold = usize::try_from(live).unwrap_or(usize::MAX);
    if would_hold > batch.max_live {
        return Err(StoreError::TooManySecrets {
            would_hold,
            limit: batch.max_live,
        });
    }
    Ok(())
}

/// `SELECT`s heads, as [`HeadRow`] reads them, of one extension and environment.
macro_rules! heads_where {
    ($where:literal) => {
        concat!(
            "SELECT name, current_version, latest_version, updated_at, updated_by, allowed_hosts, \
             expires_at, rotate_every_secs, current_set_at \
             FROM ext_secret_heads WHERE extension_id = $1 AND environment = $2 AND ",
            $where
        )
    };
}
pub(crate) use heads_where;

/// Scalar, so PostgreSQL's cached generic plan is always a key lookup: this runs before
/// every set.
pub(crate) const HEAD: &str = heads_where!("name = $3");

#[derive(sqlx::FromRow)]
pub(crate) struct HeadRow {
    name: String,
    current_version: Option<i64>,
    latest_version: i64,
    updated_at: Stamp,
    updated_by: String,
    allowed_hosts: Option<String>,
    expires_at: Option<Stamp>,
    rotate_every_secs: Option<i64>,
    current_set_at: Option<Stamp>,
}

impl HeadRow {
    pub(crate) fn head(self) -> Result<SecretHead, StoreError> {
        Ok(SecretHead {
            name: rows::secret_name(&self.name)?,
            current_version: self.current_version,
            latest_version: self.latest_version,
            updated_at: self.updated_at.0,
            updated_by: self.updated_by,
            allowed_hosts: rows::allowed_hosts(self.allowed_hosts.as_deref())?,
            expires_at: self.expires_at.map(|at| at.0),
            rotate_every: rows::rotate_every(self.rotate_every_secs)?,
            current_set_at: self.current_set_at.map(|at| at.0),
        })
    }
}

/// The current version of one live secret, its binding and its expiry.
pub(crate) const CURRENT: &str =
    "SELECT s.version, s.sealed, s.kek_id, h.allowed_hosts, h.expires_at \
     FROM ext_secret_heads h JOIN ext_secrets s \
       ON s.extension_id = h.extension_id AND s.environment = h.environment \
      AND s.name = h.name AND s.version = h.current_version \
     WHERE h.extension_id = $1 AND h.environment = $2 AND h.name = $3";

/// A row of [`CURRENT`]: version, sealed bytes, key id, allowed hosts, expiry.
pub(crate) type CurrentRow = (i64, Vec<u8>, String, Option<String>, Option<Stamp>);

pub(crate) fn current_secret(
    (version, sealed, kek_id, hosts, expires_at): CurrentRow,
) -> Result<CurrentSecret, StoreError> {
    Ok(CurrentSecret {
        version: SealedVersion {
            version,
            sealed,
            kek_id,
        },
        allowed_hosts: rows::allowed_hosts(hosts.as_deref())?,
        expires_at: expires_at.map(|at| at.0),
    })
}

/// One kept version, `$4`.
pub(crate) const VERSION: &str = "SELECT version, sealed, kek_id FROM ext_secrets \
     WHERE extension_id = $1 AND environment = $2 AND name = $3 AND version = $4";

/// Kept versions, newest first, and which is current.
pub(crate) const HISTORY: &str = "SELECT s.version, s.created_at, s.created_by, \
        COALESCE(s.version = h.current_version, FALSE) \
     FROM ext_secrets s LEFT JOIN ext_secret_heads h \
       ON h.extension_id = s.extension_id AND h.environment = s.environment AND h.name = s.name \
     WHERE s.extension_id = $1 AND s.environment = $2 AND s.name = $3 \
     ORDER BY s.version DESC";

pub(crate) fn version_info(
    (version, created_at, created_by, current): (i64, Stamp, String, bool),
) -> VersionInfo {
    VersionInfo {
        version,
        created_at: created_at.0,
        created_by,
        current,
    }
}

/// Sets (`$4` the column, NULL clears) the egress binding of a live secret; `$5` when,
/// `$6` who. A metadata change: no version is written.
pub(crate) const SET_BINDING: &str = "UPDATE ext_secret_heads \
     SET allowed_hosts = $4, updated_at = $5, updated_by = $6 \
     WHERE extension_id = $1 AND environment = $2 AND name = $3 \
       AND current_version IS NOT NULL";

/// Changes the due dates of a live secret: `$4` whether to replace the expiry, `$5` with
/// what (NULL clears), `$6`/`$7` the same for the rotation period; `$8` when, `$9` who.
/// A metadata change: no version is written and the rotation clock does not move.
pub(crate) const SET_DUE_DATES: &str = "UPDATE ext_secret_heads \
     SET expires_at = CASE WHEN $4 THEN $5 ELSE expires_at END, \
         rotate_every_secs = CASE WHEN $6 THEN $7 ELSE rotate_every_secs END, \
         updated_at = $8, updated_by = $9 \
     WHERE extension_id = $1 AND environment = $2 AND name = $3 \
       AND current_version IS NOT NULL";

/// Every live head with a due date, on the whole instance, with its extension's slug.
pub(crate) const DUE_ALL: &str = "SELECT h.extension_id, e.slug, h.environment, h.name, \
        h.current_version, h.expires_at, h.rotate_every_secs, h.current_set_at \
     FROM ext_secret_heads h JOIN extensions e ON e.id = h.extension_id \
     WHERE (h.expires_at IS NOT NULL OR h.rotate_every_secs IS NOT NULL) \
       AND h.current_version IS NOT NULL \
     ORDER BY h.extension_id, h.environment, h.name";

/// A row of [`DUE_ALL`].
pub(crate) type DueRow = (
    i64,
    String,
    String,
    String,
    i64,
    Option<Stamp>,
    Option<i64>,
    Option<Stamp>,
);

pub(crate) fn due_secret(
    (extension_id, slug, environment, name, version, expires_at, every, set_at): DueRow,
) -> Result<DueSecret, StoreError> {
    Ok(DueSecret {
        extension_id,
        slug: rows::extension_slug(&slug)?,
        environment: rows::environment(&environment)?,
        name: rows::secret_name(&name)?,
        version,
        expires_at: expires_at.map(|at| at.0),
        rotate_by: lumio_core::records::rotate_by(
            set_at.map(|at| at.0),
            rows::rotate_every(every)?,
        ),
    })
}

/// Soft delete: the head loses its current version, its egress binding and its due dates
/// (a secret set again under the name starts unbound and without them, like a new one);
/// `$4` when, `$5` who.
pub(crate) const SOFT_DELETE: &str = "UPDATE ext_secret_heads \
     SET current_version = NULL, allowed_hosts = NULL, expires_at = NULL, \
         rotate_every_secs = NULL, current_set_at = NULL, updated_at = $4, updated_by = $5 \
     WHERE extension_id = $1 AND environment = $2 AND name = $3 \
       AND current_version IS NOT NULL";

/// Purge, first statement: on PostgreSQL it waits for any writer holding the head, so the
/// next statement's fresh snapshot also sees the version that writer added.
pub(crate) const PURGE_HEAD: &str = "DELETE FROM ext_secret_heads \
     WHERE extension_id = $1 AND environment = $2 AND name = $3";

/// Purge, second statement: every kept version.
pub(crate) const PURGE_VERSIONS: &str =
    "DELETE FROM ext_secrets WHERE extension_id = $1 AND environment = $2 AND name = $3";

/// The secret reads, deletes and bindings as inherent methods of a store on `$db` (see
/// [`crate::store_impl`]); the store provides `write`.
macro_rules! secret_queries {
    ($store:ty, $db:ty) => {
        impl $store {
            /// Fails the batch's transaction on `conn` if it left too many secrets live.
            pub(crate) async fn check_live_limit(
                conn: &mut <$db as sqlx::Database>::Connection,
                batch: &$crate::secrets::Batch<'_>,
            ) -> Result<(), $crate::StoreError> {
                let live: i64 = sqlx::query_scalar($crate::secrets::COUNT_LIVE)
                    .bind(batch.extension_id)
                    .bind(batch.environment.as_str())
                    .fetch_one(&mut *conn)
                    .await?;
                $crate::secrets::live_limit(live, batch)
            }

            pub(crate) async fn select_head(
                &self,
                extension_id: i64,
                environment: lumio_core::Environment,
                name: &lumio_core::SecretName,
            ) -> Result<Option<$crate::SecretHead>, $crate::StoreError> {
                let row: Option<$crate::secrets::HeadRow> = sqlx::query_as($crate::secrets::HEAD)
                    .bind(extension_id)
                    .bind(environment.as_str())
                    .bind(name.as_str())
                    .fetch_optional(self.readers())
                    .await?;
                row.map($crate::secrets::HeadRow::head).transpose()
            }

            /// The heads of the `names` that exist (any order).
            pub(crate) async fn select_heads(
                &self,
                extension_id: i64,
                environment: lumio_core::Environment,
                names: &[lumio_core::SecretName],
            ) -> Result<Vec<$crate::SecretHead>, $crate::StoreError> {
                use $crate::dialect::Dialect;
                if names.is_empty() {
                    return Ok(Vec::new());
                }
                let among = <$db>::name_among(names.len());
                let sql = format!($crate::secrets::heads_where!("{}"), among);
                let query = sqlx::query_as(&sql)
                    .bind(extension_id)
                    .bind(environment.as_str());
                let rows: Vec<$crate::secrets::HeadRow> = <$db>::bind_names(query, names)
                    .fetch_all(self.readers())
                    .await?;
                rows.into_iter()
                    .map($crate::secrets::HeadRow::head)
                    .collect()
            }

            /// Live heads, ordered by name.
            pub(crate) async fn select_live(
                &self,
                extension_id: i64,
                environment: lumio_core::Environment,
            ) -> Result<Vec<$crate::SecretHead>, $crate::StoreError> {
                let sql = format!(
                    $crate::secrets::heads_where!("current_version IS NOT NULL ORDER BY name{}"),
                    <$db as $crate::dialect::Dialect>::BYTE_ORDER
                );
                let rows: Vec<$crate::secrets::HeadRow> = sqlx::query_as(&sql)
                    .bind(extension_id)
                    .bind(environment.as_str())
                    .fetch_all(self.readers())
                    .await?;
                rows.into_iter()
                    .map($crate::secrets::HeadRow::head)
                    .collect()
            }

            pub(crate) async fn select_current(
                &self,
                extension_id: i64,
                environment: lumio_core::Environment,
                name: &lumio_core::SecretName,
            ) -> Result<Option<$crate::CurrentSecret>, $crate::StoreError> {
                let row: Option<$crate::secrets::CurrentRow> =
                    sqlx::query_as($crate::secrets::CURRENT)
                        .bind(extension_id)
                        .bind(environment.as_str())
                        .bind(name.as_str())
                        .fetch_optional(self.readers())
                        .await?;
                row.map($crate::secrets::current_secret).transpose()
            }

            pub(crate) async fn select_version(
                &self,
                extension_id: i64,
                environment: lumio_core::Environment,
                name: &lumio_core::SecretName,
                version: i64,
            ) -> Result<Option<$crate::SealedVersion>, $crate::StoreError> {
                let row: Option<(i64, Vec<u8>, String)> = sqlx::query_as($crate::secrets::VERSION)
                    .bind(extension_id)
                    .bind(environment.as_str())
                    .bind(name.as_str())
                    .bind(version)
                    .fetch_optional(self.readers())
                    .await?;
                Ok(row.map(|(version, sealed, kek_id)| $crate::SealedVersion {
                    version,
                    sealed,
                    kek_id,
                }))
            }

            pub(crate) async fn select_history(
                &self,
                extension_id: i64,
                environment: lumio_core::Environment,
                name: &lumio_core::SecretName,
            ) -> Result<Vec<$crate::VersionInfo>, $crate::StoreError> {
                let rows: Vec<(i64, $crate::stamp::Stamp, String, bool)> =
                    sqlx::query_as($crate::secrets::HISTORY)
                        .bind(extension_id)
                        .bind(environment.as_str())
                        .bind(name.as_str())
                        .fetch_all(self.readers())
                        .await?;
                Ok(rows
                    .into_iter()
                    .map($crate::secrets::version_info)
                    .collect())
            }

            /// Soft delete or purge, with `audit` in the same transaction; announced.
            pub(crate) async fn delete(
                &self,
                extension_id: i64,
                environment: lumio_core::Environment,
                name: &lumio_core::SecretName,
                actor: &str,
                purge: bool,
                audit: &[$crate::AuditRecord],
            ) -> Result<bool, $crate::StoreError> {
                use $crate::secrets::{PURGE_HEAD, PURGE_VERSIONS, SOFT_DELETE};
                let key = (extension_id, environment.as_str(), name.as_str());
                let mut tx = self.begin_write().await?;
                let deleted = if purge {
                    let heads = sqlx::query(PURGE_HEAD)
                        .bind(key.0)
                        .bind(key.1)
                        .bind(key.2)
                        .execute(&mut *tx)
                        .await?;
                    if heads.rows_affected() > 0 {
                        sqlx::query(PURGE_VERSIONS)
                            .bind(key.0)
                            .bind(key.1)
                            .bind(key.2)
                            .execute(&mut *tx)
                            .await?;
                    }
                    heads.rows_affected() > 0
                } else {
                    let done = sqlx::query(SOFT_DELETE)
                        .bind(key.0)
                        .bind(key.1)
                        .bind(key.2)
                        .bind($crate::stamp::Stamp($crate::rows::now()))
                        .bind(actor)
                        .execute(&mut *tx)
                        .await?;
                    done.rows_affected() > 0
                };
                self.finish_change(tx, deleted, audit).await?;
                if deleted {
                    self.tell_secrets(extension_id, environment, [name]).await;
                }
                Ok(deleted)
            }

            /// Binds a live secret, with `audit` in the same transaction; announced.
            pub(crate) async fn bind(
                &self,
                extension_id: i64,
                environment: lumio_core::Environment,
                name: &lumio_core::SecretName,
                allowed_hosts: Option<&lumio_core::AllowedHosts>,
                actor: &str,
                audit: &[$crate::AuditRecord],
            ) -> Result<bool, $crate::StoreError> {
                let mut tx = self.begin_write().await?;
                let done = sqlx::query($crate::secrets::SET_BINDING)
                    .bind(extension_id)
                    .bind(environment.as_str())
                    .bind(name.as_str())
                    .bind($crate::rows::hosts_column(allowed_hosts))
                    .bind($crate::stamp::Stamp($crate::rows::now()))
                    .bind(actor)
                    .execute(&mut *tx)
                    .await?;
                let bound = done.rows_affected() > 0;
                self.finish_change(tx, bound, audit).await?;
                if bound {
                    self.tell_secrets(extension_id, environment, [name]).await;
                }
                Ok(bound)
            }

            /// Changes a live secret's due dates, with `audit` in the same transaction;
            /// announced.
            pub(crate) async fn change_due_dates(
                &self,
                extension_id: i64,
                environment: lumio_core::Environment,
                name: &lumio_core::SecretName,
                change: &$crate::DueDatesChange,
                actor: &str,
                audit: &[$crate::AuditRecord],
            ) -> Result<bool, $crate::StoreError> {
                use lumio_core::DueUpdate;
                let (replace_expiry, expires_at) = match change.expires_at {
                    DueUpdate::Keep => (false, None),
                    DueUpdate::Set(at) => (true, Some($crate::stamp::Stamp(at))),
                    DueUpdate::Clear => (true, None),
                };
                let (replace_rotation, every) = $crate::rows::rotation_columns(change.rotate_every);
                let mut tx = self.begin_write().await?;
                let done = sqlx::query($crate::secrets::SET_DUE_DATES)
                    .bind(extension_id)
                    .bind(environment.as_str())
                    .bind(name.as_str())
                    .bind(replace_expiry)
                    .bind(expires_at)
                    .bind(replace_rotation)
                    .bind(every)
                    .bind($crate::stamp::Stamp($crate::rows::now()))
                    .bind(actor)
                    .execute(&mut *tx)
                    .await?;
                let changed = done.rows_affected() > 0;
                self.finish_change(tx, changed, audit).await?;
                if changed {
                    self.tell_secrets(extension_id, environment, [name]).await;
                }
                Ok(changed)
            }

            /// Every live secret with a due date, on the whole instance.
            pub(crate) async fn select_due_all(
                &self,
            ) -> Result<Vec<$crate::DueSecret>, $crate::StoreError> {
                let rows: Vec<$crate::secrets::DueRow> = sqlx::query_as($crate::secrets::DUE_ALL)
                    .fetch_all(self.readers())
                    .await?;
                rows.into_iter().map($crate::secrets::due_secret).collect()
            }

            /// Commits a change with its `audit` records if it `happened`; else rolls it
            /// back and writes no record.
            async fn finish_change(
                &self,
                mut tx: sqlx::Transaction<'_, $db>,
                happened: bool,
                audit: &[$crate::AuditRecord],
            ) -> Result<(), $crate::StoreError> {
                if !happened {
                    tx.rollback().await?;
                    return Ok(());
                }
                Self::insert_change_records(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }

            /// Announces changes to secrets of one extension and environment.
            pub(crate) async fn tell_secrets<'n>(
                &self,
                extension_id: i64,
                environment: lumio_core::Environment,
                names: impl IntoIterator<Item = &'n lumio_core::SecretName>,
            ) {
                let changes = names.into_iter().map(|name| $crate::Change::Secret {
                    extension_id,
                    environment,
                    name: name.as_str().to_owned(),
                });
                self.tell(changes).await;
            }
        }
    };
}
pub(crate) use secret_queries;
