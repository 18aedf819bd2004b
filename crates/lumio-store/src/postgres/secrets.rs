//! Secret versions and heads on PostgreSQL.

use chrono::{DateTime, Utc};
use lumio_core::{Environment, SecretName};

use super::PgStore;
use crate::{rows, NewVersion, SealedVersion, SecretHead, StoreError, VersionInfo, KEPT_VERSIONS};

/// The whole write in one statement (one round trip): lock the existing heads, keep the
/// writes whose `expected_latest` still holds, move their heads, insert their versions,
/// prune old versions, and take the environment's advisory lock if the live count may grow.
///
/// `FOR UPDATE` in READ COMMITTED returns the newest committed head after waiting, so the
/// version check sees any writer that committed first. A name with no head has nothing to
/// lock; two first writes of it meet at `ON CONFLICT DO NOTHING`, which waits for the
/// other insert, and the loser writes nothing. Writes left out make `written` fall short
/// and the caller rolls back.
///
/// Every scan repeats `name = ANY($3)` so it is an index condition even in a generic plan;
/// joined only through the CTEs, the planner may scan the whole environment instead.
const WRITE: &str = r#"
WITH w AS (
    SELECT * FROM UNNEST($3::text[], $4::int8[], $5::bytea[], $6::text[], $7::text[])
        AS w(name, version, sealed, kek_id, actor)
),
old AS (
    SELECT h.name, h.latest_version, h.current_version
    FROM ext_secret_heads h
    WHERE h.extension_id = $1 AND h.environment = $2 AND h.name = ANY($3::text[])
    ORDER BY h.name
    FOR UPDATE
),
ok AS (
    SELECT w.*, old.name IS NOT NULL AS existed, old.current_version IS NULL AS adds_live
    FROM w LEFT JOIN old ON old.name = w.name
    WHERE COALESCE(old.latest_version, 0) = w.version - 1
),
upd AS (
    UPDATE ext_secret_heads h
    SET current_version = ok.version, latest_version = ok.version,
        updated_at = $8, updated_by = ok.actor
    FROM ok
    WHERE ok.existed AND h.extension_id = $1 AND h.environment = $2
      AND h.name = ANY($3::text[]) AND h.name = ok.name
    RETURNING h.name
),
ins AS (
    INSERT INTO ext_secret_heads
        (extension_id, environment, name, current_version, latest_version, updated_at, updated_by)
    SELECT $1, $2, ok.name, ok.version, ok.version, $8, ok.actor FROM ok WHERE NOT ok.existed
    ON CONFLICT DO NOTHING
    RETURNING name
),
done AS (SELECT name FROM upd UNION ALL SELECT name FROM ins),
vers AS (
    INSERT INTO ext_secrets
        (extension_id, environment, name, version, sealed, kek_id, created_at, created_by)
    SELECT $1, $2, ok.name, ok.version, ok.sealed, ok.kek_id, $8, ok.actor
    FROM ok JOIN done ON done.name = ok.name
    RETURNING 1
),
pruned AS (
    DELETE FROM ext_secrets s
    USING ok
    WHERE s.extension_id = $1 AND s.environment = $2
      AND s.name = ANY($3::text[]) AND s.name = ok.name AND s.version <= ok.version - $9
),
grow AS (
    SELECT pg_advisory_xact_lock($10) FROM ok WHERE ok.adds_live LIMIT 1
)
SELECT (SELECT count(*) FROM vers), (SELECT count(*) FROM grow)
"#;

/// Run after the advisory lock, in a new statement, so its snapshot includes every
/// writer that held the lock before: two writers cannot both squeeze under the limit.
const COUNT_LIVE: &str = "SELECT count(*) FROM ext_secret_heads \
     WHERE extension_id = $1 AND environment = $2 AND current_version IS NOT NULL";

const HEAD_COLUMNS: &str = "name, current_version, latest_version, updated_at, updated_by";

type HeadRow = (String, Option<i64>, i64, DateTime<Utc>, String);

fn head(row: HeadRow) -> Result<SecretHead, StoreError> {
    let (name, current_version, latest_version, updated_at, updated_by) = row;
    Ok(SecretHead {
        name: rows::secret_name(&name)?,
        current_version,
        latest_version,
        updated_at,
        updated_by,
    })
}

/// One advisory lock key per (extension, environment), tagged so it is unlikely to meet
/// another application's keys.
fn live_lock_key(extension_id: i64, environment: Environment) -> i64 {
    let env = match environment {
        Environment::Staging => 0,
        Environment::Production => 1,
    };
    i64::from_be_bytes(*b"LUMIO\0\0\0") ^ (extension_id << 1 | env)
}

impl PgStore {
    pub(super) async fn write(
        &self,
        extension_id: i64,
        environment: Environment,
        writes: &[NewVersion],
        max_live: usize,
    ) -> Result<(), StoreError> {
        rows::check_writes(writes)?;
        if writes.is_empty() {
            return Ok(());
        }
        // Sorted, so concurrent batches lock heads in the same order.
        let mut sorted: Vec<&NewVersion> = writes.iter().collect();
        sorted.sort_by(|a, b| a.name.cmp(&b.name));
        let names: Vec<&str> = sorted.iter().map(|w| w.name.as_str()).collect();
        let versions: Vec<i64> = sorted.iter().map(|w| w.version).collect();
        let sealed: Vec<&[u8]> = sorted.iter().map(|w| &w.sealed[..]).collect();
        let kek_ids: Vec<&str> = sorted.iter().map(|w| w.kek_id.as_str()).collect();
        let actors: Vec<&str> = sorted.iter().map(|w| w.actor.as_str()).collect();

        let mut tx = self.pool.begin().await?;
        let (written, grows): (i64, i64) = sqlx::query_as(WRITE)
            .bind(extension_id)
            .bind(environment.as_str())
            .bind(&names)
            .bind(&versions)
            .bind(&sealed)
            .bind(&kek_ids)
            .bind(&actors)
            .bind(rows::now())
            .bind(KEPT_VERSIONS)
            .bind(live_lock_key(extension_id, environment))
            .fetch_one(&mut *tx)
            .await
            .map_err(race_is_conflict)?;
        if written != writes.len() as i64 {
            tx.rollback().await?;
            return Err(StoreError::VersionConflict);
        }
        if grows > 0 {
            let live: i64 = sqlx::query_scalar(COUNT_LIVE)
                .bind(extension_id)
                .bind(environment.as_str())
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
        tx.commit().await.map_err(race_is_conflict)?;
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
            Some(names) => {
                let names: Vec<&str> = names.iter().map(SecretName::as_str).collect();
                sqlx::query_as(&format!(
                    "SELECT {HEAD_COLUMNS} FROM ext_secret_heads \
                     WHERE extension_id = $1 AND environment = $2 AND name = ANY($3::text[])"
                ))
                .bind(extension_id)
                .bind(environment.as_str())
                .bind(names)
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query_as(&format!(
                    "SELECT {HEAD_COLUMNS} FROM ext_secret_heads \
                     WHERE extension_id = $1 AND environment = $2 \
                       AND current_version IS NOT NULL \
                     ORDER BY name COLLATE \"C\""
                ))
                .bind(extension_id)
                .bind(environment.as_str())
                .fetch_all(&self.pool)
                .await?
            }
        };
        rows.into_iter().map(head).collect()
    }

    /// One version's sealed bytes, or the current one's when `version` is `None`.
    pub(super) async fn select_sealed(
        &self,
        extension_id: i64,
        environment: Environment,
        name: &SecretName,
        version: Option<i64>,
    ) -> Result<Option<SealedVersion>, StoreError> {
        let sql = match version {
            Some(_) => {
                "SELECT version, sealed, kek_id FROM ext_secrets \
                 WHERE extension_id = $1 AND environment = $2 AND name = $3 AND version = $4"
            }
            None => {
                "SELECT s.version, s.sealed, s.kek_id \
                 FROM ext_secret_heads h JOIN ext_secrets s \
                   ON s.extension_id = h.extension_id AND s.environment = h.environment \
                  AND s.name = h.name AND s.version = h.current_version \
                 WHERE h.extension_id = $1 AND h.environment = $2 AND h.name = $3"
            }
        };
        let mut query = sqlx::query_as(sql)
            .bind(extension_id)
            .bind(environment.as_str())
            .bind(name.as_str());
        if let Some(version) = version {
            query = query.bind(version);
        }
        let row: Option<(i64, Vec<u8>, String)> = query.fetch_optional(&self.pool).await?;
        Ok(row.map(|(version, sealed, kek_id)| SealedVersion {
            version,
            sealed,
            kek_id,
        }))
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
    ) -> Result<bool, StoreError> {
        if !purge {
            let done = sqlx::query(
                "UPDATE ext_secret_heads \
                 SET current_version = NULL, updated_at = $4, updated_by = $5 \
                 WHERE extension_id = $1 AND environment = $2 AND name = $3 \
                   AND current_version IS NOT NULL",
            )
            .bind(extension_id)
            .bind(environment.as_str())
            .bind(name.as_str())
            .bind(rows::now())
            .bind(actor)
            .execute(&self.pool)
            .await?;
            return Ok(done.rows_affected() > 0);
        }
        // Two statements: deleting the head first waits for any writer holding it, and the
        // second statement's fresh snapshot then also sees the version that writer added.
        let mut tx = self.pool.begin().await?;
        let heads = sqlx::query(
            "DELETE FROM ext_secret_heads \
             WHERE extension_id = $1 AND environment = $2 AND name = $3",
        )
        .bind(extension_id)
        .bind(environment.as_str())
        .bind(name.as_str())
        .execute(&mut *tx)
        .await?;
        if heads.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query(
            "DELETE FROM ext_secrets WHERE extension_id = $1 AND environment = $2 AND name = $3",
        )
        .bind(extension_id)
        .bind(environment.as_str())
        .bind(name.as_str())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }
}

fn race_is_conflict(err: sqlx::Error) -> StoreError {
    if rows::is_write_race(&err) {
        StoreError::VersionConflict
    } else {
        StoreError::Database(err)
    }
}
