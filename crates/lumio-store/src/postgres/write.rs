//! The secret write path on PostgreSQL, the one benchmarked (≥ 2,000 sets/s).
//!
//! Most writes change secrets that are already live: they cannot grow the live count, so
//! they run as one statement outside an explicit transaction (one round trip; BEGIN and
//! COMMIT would cost two more, about half the client-side time of a set). Writes that
//! create or revive a name take the transactional path, which also checks the live limit.

use chrono::{DateTime, Utc};
use lumio_core::Environment;
use sqlx::{Postgres, Transaction};

use super::audit::{is_audit_refusal, AuditColumns};
use super::PgStore;
use crate::secrets::Batch;
use crate::{rows, NewVersion, StoreError, KEPT_VERSIONS};

/// The change's audit records (`$10`–`$19`, parallel arrays), inserted by the same
/// statement as the change and only if it applies (`go.ok`): one statement is one
/// transaction, so the change and its record commit together or not at all.
macro_rules! audit_rows {
    () => {
        r#"
audit AS (
    INSERT INTO ext_audit_log
        (at, extension_id, environment, event, secret_name, actor, action, request_id, outcome, detail)
    SELECT a.* FROM UNNEST($10::timestamptz[], $11::int8[], $12::text[], $13::text[],
        $14::text[], $15::text[], $16::text[], $17::text[], $18::text[], $19::text[])
        AS a(at, extension_id, environment, event, secret_name, actor, action, request_id,
             outcome, detail), go
    WHERE go.ok
)
"#
    };
}

/// Shared head: the batch as rows, and its existing heads locked. `FOR UPDATE` in READ
/// COMMITTED returns the newest committed head after waiting, so the version check sees
/// any writer that committed first. Every scan repeats `name = ANY($3)` so it stays an
/// index condition in cached generic plans (joined only through the CTEs, the planner
/// may scan the whole environment).
///
/// Its four arguments number the due-date arrays (expiry, whether to replace the rotation
/// period, the period, set time), which follow the audit records' parameters where a
/// statement has them.
macro_rules! locked_batch {
    ($expires:literal, $replace:literal, $every:literal, $set_at:literal) => {
        concat!(
            r#"
WITH w AS (
    SELECT * FROM UNNEST($3::text[], $4::int8[], $5::bytea[], $6::text[], $7::text[],
        "#,
            $expires,
            "::timestamptz[], ",
            $replace,
            "::bool[], ",
            $every,
            "::int8[], ",
            $set_at,
            r#"::timestamptz[])
        AS w(name, version, sealed, kek_id, actor, expires_at, replace_rotation, rotate_every_secs,
             set_at)
),
old AS (
    SELECT h.name, h.latest_version, h.current_version
    FROM ext_secret_heads h
    WHERE h.extension_id = $1 AND h.environment = $2 AND h.name = ANY($3::text[])
    ORDER BY h.name
    FOR UPDATE
),
"#
        )
    };
}

/// Applies the batch only if every write updates a live head whose `latest_version` is
/// still the expected one; otherwise writes nothing. Autocommit: all heads are locked
/// before anything is written, so the batch cannot half-apply. Returns (applied, stale).
const UPDATE_LIVE: &str = concat!(
    locked_batch!("$20", "$21", "$22", "$23"),
    r#"
checked AS (
    SELECT w.*, COALESCE(old.latest_version, 0) = w.version - 1 AS fresh,
           old.current_version IS NOT NULL AS live
    FROM w LEFT JOIN old ON old.name = w.name
),
go AS (SELECT COALESCE(bool_and(fresh AND live), false) AS ok FROM checked),
upd AS (
    UPDATE ext_secret_heads h
    SET current_version = c.version, latest_version = c.version,
        updated_at = $8, updated_by = c.actor,
        expires_at = c.expires_at, current_set_at = c.set_at,
        rotate_every_secs = CASE WHEN c.replace_rotation THEN c.rotate_every_secs
                                 ELSE h.rotate_every_secs END
    FROM checked c, go
    WHERE go.ok AND h.extension_id = $1 AND h.environment = $2
      AND h.name = ANY($3::text[]) AND h.name = c.name
),
vers AS (
    INSERT INTO ext_secrets
        (extension_id, environment, name, version, sealed, kek_id, created_at, created_by)
    SELECT $1, $2, c.name, c.version, c.sealed, c.kek_id, $8, c.actor
    FROM checked c, go WHERE go.ok
),
pruned AS (
    DELETE FROM ext_secrets s
    USING checked c, go
    WHERE go.ok AND s.extension_id = $1 AND s.environment = $2
      AND s.name = ANY($3::text[]) AND s.name = c.name AND s.version <= c.version - $9
),
"#,
    audit_rows!(),
    "SELECT go.ok, (SELECT count(*) FROM checked WHERE NOT fresh) FROM go"
);

/// [`UPDATE_LIVE`] for one write, with scalar parameters: the hot path. Equality on the
/// whole primary key keeps every scan an index lookup in the cached generic plan, which
/// the array form cannot promise on a small table. The head is locked (in `go`, an init
/// plan) before anything is written. The version's due dates are `$20`–`$23`, after the
/// audit records' parameters. Returns (applied, stale).
const UPDATE_ONE_LIVE: &str = concat!(
    r#"
WITH old AS (
    SELECT latest_version, current_version FROM ext_secret_heads
    WHERE extension_id = $1 AND environment = $2 AND name = $3
    FOR UPDATE
),
go AS (
    SELECT COALESCE(bool_and(latest_version = $4 - 1 AND current_version IS NOT NULL), false) AS ok,
           COALESCE(bool_and(latest_version = $4 - 1), $4 = 1) AS fresh
    FROM old
),
upd AS (
    UPDATE ext_secret_heads
    SET current_version = $4, latest_version = $4, updated_at = $8, updated_by = $7,
        expires_at = $20, current_set_at = $23,
        rotate_every_secs = CASE WHEN $21 THEN $22::int8 ELSE rotate_every_secs END
    WHERE extension_id = $1 AND environment = $2 AND name = $3 AND (SELECT ok FROM go)
),
vers AS (
    INSERT INTO ext_secrets
        (extension_id, environment, name, version, sealed, kek_id, created_at, created_by)
    SELECT $1, $2, $3, $4, $5, $6, $8, $7 FROM go WHERE go.ok
),
pruned AS (
    DELETE FROM ext_secrets
    WHERE extension_id = $1 AND environment = $2 AND name = $3 AND version <= $4 - $9
      AND (SELECT ok FROM go)
),
"#,
    audit_rows!(),
    "SELECT ok, (NOT fresh)::int4::int8 FROM go"
);

/// Any batch, inside a transaction: keeps the writes whose `expected_latest` still holds,
/// moves or creates their heads, inserts versions, prunes. A name with no head has
/// nothing to lock; two first writes of it meet at `ON CONFLICT DO NOTHING`, which waits
/// for the other insert, and the loser writes nothing. Writes left out make `written`
/// fall short and the caller rolls back. Returns (written, names made live). The change's
/// audit records follow in the same transaction.
const WRITE_ANY: &str = concat!(
    locked_batch!("$10", "$11", "$12", "$13"),
    r#"
ok AS (
    SELECT w.*, old.name IS NOT NULL AS existed, old.current_version IS NULL AS adds_live
    FROM w LEFT JOIN old ON old.name = w.name
    WHERE COALESCE(old.latest_version, 0) = w.version - 1
),
upd AS (
    UPDATE ext_secret_heads h
    SET current_version = ok.version, latest_version = ok.version,
        updated_at = $8, updated_by = ok.actor,
        expires_at = ok.expires_at, current_set_at = ok.set_at,
        rotate_every_secs = CASE WHEN ok.replace_rotation THEN ok.rotate_every_secs
                                 ELSE h.rotate_every_secs END
    FROM ok
    WHERE ok.existed AND h.extension_id = $1 AND h.environment = $2
      AND h.name = ANY($3::text[]) AND h.name = ok.name
    RETURNING h.name
),
ins AS (
    INSERT INTO ext_secret_heads
        (extension_id, environment, name, current_version, latest_version, updated_at, updated_by,
         expires_at, rotate_every_secs, current_set_at)
    SELECT $1, $2, ok.name, ok.version, ok.version, $8, ok.actor,
           ok.expires_at, ok.rotate_every_secs, ok.set_at
    FROM ok WHERE NOT ok.existed
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
)
SELECT (SELECT count(*) FROM vers), (SELECT count(*) FROM ok WHERE ok.adds_live)
"#
);

/// Writers that may grow the live count take turns on this lock; the count that follows
/// is a new statement, so its snapshot includes every writer that held the lock before:
/// two writers cannot both squeeze under the limit.
const LOCK_LIVE: &str = "SELECT pg_advisory_xact_lock($1)";

/// The batch as parallel arrays, sorted by name so concurrent batches lock heads in the
/// same order.
struct Columns<'a> {
    names: Vec<&'a str>,
    versions: Vec<i64>,
    sealed: Vec<&'a [u8]>,
    kek_ids: Vec<&'a str>,
    actors: Vec<&'a str>,
    expires: Vec<Option<DateTime<Utc>>>,
    replace_rotation: Vec<bool>,
    rotate_every: Vec<Option<i64>>,
    set_at: Vec<DateTime<Utc>>,
}

impl<'a> Columns<'a> {
    fn new(writes: &'a [NewVersion]) -> Self {
        let mut sorted: Vec<&NewVersion> = writes.iter().collect();
        sorted.sort_by(|a, b| a.name.cmp(&b.name));
        Self {
            names: sorted.iter().map(|w| w.name.as_str()).collect(),
            versions: sorted.iter().map(|w| w.version).collect(),
            sealed: sorted.iter().map(|w| &w.sealed[..]).collect(),
            kek_ids: sorted.iter().map(|w| w.kek_id.as_str()).collect(),
            actors: sorted.iter().map(|w| w.actor.as_str()).collect(),
            expires: sorted.iter().map(|w| w.expires_at).collect(),
            replace_rotation: sorted
                .iter()
                .map(|w| rows::rotation_columns(w.rotate_every).0)
                .collect(),
            rotate_every: sorted
                .iter()
                .map(|w| rows::rotation_columns(w.rotate_every).1)
                .collect(),
            set_at: sorted.iter().map(|w| w.set_at).collect(),
        }
    }

    /// Binds the due-date arrays, in the order [`locked_batch!`] numbers them.
    fn bind_due<'q, O>(
        &'q self,
        query: sqlx::query::QueryAs<'q, Postgres, O, sqlx::postgres::PgArguments>,
    ) -> sqlx::query::QueryAs<'q, Postgres, O, sqlx::postgres::PgArguments> {
        query
            .bind(&self.expires)
            .bind(&self.replace_rotation)
            .bind(&self.rotate_every)
            .bind(&self.set_at)
    }

    fn bind<'q, O>(
        &'q self,
        sql: &'q str,
        extension_id: i64,
        environment: Environment,
    ) -> sqlx::query::QueryAs<'q, Postgres, O, sqlx::postgres::PgArguments>
    where
        O: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>,
    {
        sqlx::query_as(sql)
            .bind(extension_id)
            .bind(environment.as_str())
            .bind(&self.names)
            .bind(&self.versions)
            .bind(&self.sealed)
            .bind(&self.kek_ids)
            .bind(&self.actors)
            .bind(rows::now())
            .bind(KEPT_VERSIONS)
    }
}

impl PgStore {
    /// Writes a checked, non-empty batch (see `Store::write_versions`).
    pub(super) async fn write(&self, batch: &Batch<'_>) -> Result<(), StoreError> {
        let (extension_id, environment) = (batch.extension_id, batch.environment);
        // A write that binds the secret takes the transactional path: the hot statements
        // leave the binding alone.
        if batch.writes.iter().any(|w| w.allowed_hosts.is_some()) {
            return self
                .write_in_transaction(&Columns::new(batch.writes), batch)
                .await;
        }
        let records = AuditColumns::new(batch.audit);
        let mut columns = None;
        let query = match batch.writes {
            [one] => {
                let (replace_rotation, every) = rows::rotation_columns(one.rotate_every);
                let query = sqlx::query_as(UPDATE_ONE_LIVE)
                    .bind(extension_id)
                    .bind(environment.as_str())
                    .bind(one.name.as_str())
                    .bind(one.version)
                    .bind(&one.sealed[..])
                    .bind(&one.kek_id)
                    .bind(&one.actor)
                    .bind(rows::now())
                    .bind(KEPT_VERSIONS);
                bind_audit!(query, &records)
                    .bind(one.expires_at)
                    .bind(replace_rotation)
                    .bind(every)
                    .bind(one.set_at)
            }
            writes => {
                let columns = columns.insert(Columns::new(writes));
                let query = columns.bind(UPDATE_LIVE, extension_id, environment);
                columns.bind_due(bind_audit!(query, &records))
            }
        };
        let (applied, stale): (bool, i64) = query.fetch_one(&self.pool).await.map_err(classify)?;
        if applied {
            return Ok(());
        }
        if stale > 0 {
            return Err(StoreError::VersionConflict);
        }
        let columns = columns.unwrap_or_else(|| Columns::new(batch.writes));
        self.write_in_transaction(&columns, batch).await
    }

    /// Any batch: [`WRITE_ANY`], the bindings some writes set, then the audit records.
    async fn write_in_transaction(
        &self,
        columns: &Columns<'_>,
        batch: &Batch<'_>,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let mut written = write_any(&mut tx, columns, batch).await;
        if written.is_ok() {
            written = bind_written(&mut tx, batch).await;
        }
        let recorded = match written {
            Ok(()) => Self::insert_change_records(&mut tx, batch.audit).await,
            Err(err) => Err(err),
        };
        match recorded {
            Ok(()) => tx.commit().await.map_err(classify),
            Err(err) => {
                tx.rollback().await?;
                Err(err)
            }
        }
    }
}

async fn write_any(
    tx: &mut Transaction<'static, Postgres>,
    columns: &Columns<'_>,
    batch: &Batch<'_>,
) -> Result<(), StoreError> {
    let (extension_id, environment) = (batch.extension_id, batch.environment);
    let (written, grows): (i64, i64) = columns
        .bind_due(columns.bind(WRITE_ANY, extension_id, environment))
        .fetch_one(&mut **tx)
        .await
        .map_err(classify)?;
    if written != columns.names.len() as i64 {
        return Err(StoreError::VersionConflict);
    }
    if grows == 0 {
        return Ok(());
    }
    sqlx::query(LOCK_LIVE)
        .bind(live_lock_key(extension_id, environment))
        .execute(&mut **tx)
        .await?;
    PgStore::check_live_limit(tx, batch).await
}

/// Sets the binding of each write that carries one, inside the write's transaction.
async fn bind_written(
    tx: &mut Transaction<'static, Postgres>,
    batch: &Batch<'_>,
) -> Result<(), StoreError> {
    for write in batch.writes.iter().filter(|w| w.allowed_hosts.is_some()) {
        sqlx::query(crate::secrets::SET_BINDING)
            .bind(batch.extension_id)
            .bind(batch.environment.as_str())
            .bind(write.name.as_str())
            .bind(rows::hosts_column(write.allowed_hosts.as_ref()))
            .bind(rows::now())
            .bind(&write.actor)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
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

fn classify(err: sqlx::Error) -> StoreError {
    if rows::is_write_race(&err) {
        StoreError::VersionConflict
    } else if is_audit_refusal(&err) {
        StoreError::AuditRefused(err.to_string())
    } else {
        StoreError::Database(err)
    }
}
