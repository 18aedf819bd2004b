//! Master-key rotation, the same SQL on both backends: find versions sealed under other
//! keys, and swap in their resealed bytes if nobody changed them meanwhile.

use crate::{rows, StoreError, StoredVersion, VersionKey};

/// Keyset paging, so records that cannot be moved are passed over rather than met again.
pub(crate) const VERSIONS_NOT_UNDER: &str =
    "SELECT extension_id, environment, name, version, sealed \
     FROM ext_secrets WHERE kek_id <> $1 \
       AND (extension_id, environment, name, version) > ($2, $3, $4, $5) \
     ORDER BY extension_id, environment, name, version LIMIT $6";

/// Compare-and-swap on the sealed bytes: a version pruned or purged meanwhile, or one a
/// second rotating server already resealed, is left alone.
pub(crate) const APPLY_RESEAL: &str = "UPDATE ext_secrets SET sealed = $1, kek_id = $2 \
     WHERE extension_id = $3 AND environment = $4 AND name = $5 AND version = $6 AND sealed = $7";

pub(crate) const META_REPLACE: &str =
    "UPDATE lumio_meta SET value = $1 WHERE key = $2 AND value = $3";

pub(crate) type VersionRow = (i64, String, String, i64, Vec<u8>);

pub(crate) fn stored_version(row: VersionRow) -> Result<StoredVersion, StoreError> {
    let (extension_id, environment, name, version, sealed) = row;
    let key = VersionKey {
        extension_id,
        environment: rows::environment(&environment)?,
        name: rows::secret_name(&name)?,
        version,
    };
    Ok(StoredVersion { key, sealed })
}

/// The cursor's columns; before every stored version when there is none (ids are
/// positive, versions too).
pub(crate) fn after_columns(after: Option<&VersionKey>) -> (i64, &str, &str, i64) {
    match after {
        Some(key) => (
            key.extension_id,
            key.environment.as_str(),
            key.name.as_str(),
            key.version,
        ),
        None => (i64::MIN, "", "", i64::MIN),
    }
}

/// The rotation queries as inherent methods of a store (see [`crate::store_impl`]).
macro_rules! rotation_queries {
    ($store:ty) => {
        impl $store {
            pub(crate) async fn replace_meta(
                &self,
                key: &str,
                expected: &[u8],
                value: &[u8],
            ) -> Result<bool, $crate::StoreError> {
                let done = sqlx::query($crate::rotation::META_REPLACE)
                    .bind(value)
                    .bind(key)
                    .bind(expected)
                    .execute(self.writer())
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            pub(crate) async fn select_versions_not_under(
                &self,
                kek_id: &str,
                after: Option<&$crate::VersionKey>,
                limit: i64,
            ) -> Result<Vec<$crate::StoredVersion>, $crate::StoreError> {
                let (extension_id, environment, name, version) =
                    $crate::rotation::after_columns(after);
                let found: Vec<$crate::rotation::VersionRow> =
                    sqlx::query_as($crate::rotation::VERSIONS_NOT_UNDER)
                        .bind(kek_id)
                        .bind(extension_id)
                        .bind(environment)
                        .bind(name)
                        .bind(version)
                        .bind(limit)
                        .fetch_all(self.readers())
                        .await?;
                found
                    .into_iter()
                    .map($crate::rotation::stored_version)
                    .collect()
            }

            pub(crate) async fn swap_reseals(
                &self,
                reseals: &[$crate::Resealed],
            ) -> Result<u64, $crate::StoreError> {
                let mut tx = self.writer().begin().await?;
                let mut applied = 0;
                for reseal in reseals {
                    let key = &reseal.version.key;
                    applied += sqlx::query($crate::rotation::APPLY_RESEAL)
                        .bind(&reseal.version.sealed)
                        .bind(&reseal.kek_id)
                        .bind(key.extension_id)
                        .bind(key.environment.as_str())
                        .bind(key.name.as_str())
                        .bind(key.version)
                        .bind(&reseal.previous)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                }
                tx.commit().await?;
                Ok(applied)
            }
        }
    };
}
pub(crate) use rotation_queries;
