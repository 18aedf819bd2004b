//! Where the SQL of the two databases differs for the queries written once, side by side.

use std::borrow::Cow;

use lumio_core::SecretName;
use sqlx::query::QueryAs;
use sqlx::{Database, PgConnection, Postgres, Sqlite, SqliteConnection};

use crate::chain::{Heads, Relinked};
use crate::StoreError;

/// A query returning `O` on database `DB`, with its parameters.
type Query<'q, DB, O> = QueryAs<'q, DB, O, <DB as Database>::Arguments<'q>>;

/// What a shared query needs to know of its database's SQL.
pub(crate) trait Dialect: Database + Sized {
    /// Starts a write transaction.
    const BEGIN_WRITE: &'static str;
    /// Starts verify's walk: one snapshot for all its pages.
    const BEGIN_SNAPSHOT: &'static str;
    /// Appended to a `SELECT` to lock the rows it reads until the transaction ends;
    /// empty where the write transaction is the lock.
    const ROW_LOCK: &'static str;
    /// Appended to `ORDER BY name` so that names sort by their bytes.
    const BYTE_ORDER: &'static str;
    /// One row `(tx, id)`: the last invocation log position that can no longer gain
    /// rows before it, in the transaction's snapshot (see `invocation_logs.rs`).
    const LOG_END: &'static str;
    /// Outbox events with a `tx` below this are from transactions that have ended, so no
    /// event can still appear before them (see `webhooks.rs`).
    const EVENTS_HORIZON: &'static str;
    /// A condition that `name` is one of `count` names, from parameter `$3` on.
    fn name_among(count: usize) -> Cow<'static, str>;
    /// Binds `names` as [`Self::name_among`] expects them.
    fn bind_names<'q, O>(query: Query<'q, Self, O>, names: &'q [SecretName]) -> Query<'q, Self, O>;
    /// Writes chain heads back, under the locks the transaction holds.
    async fn write_heads(conn: &mut Self::Connection, heads: &Heads) -> Result<(), StoreError>;
    /// Gives a relinked page's records their new links.
    async fn rewrite_hashes(conn: &mut Self::Connection, page: &Relinked)
        -> Result<(), StoreError>;
}

impl Dialect for Postgres {
    const BEGIN_WRITE: &'static str = "BEGIN";
    const BEGIN_SNAPSHOT: &'static str = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
    const ROW_LOCK: &'static str = " FOR UPDATE";
    /// Whatever the database's locale.
    const BYTE_ORDER: &'static str = " COLLATE \"C\"";
    /// Every transaction below the snapshot's horizon has ended: its rows are all there.
    const LOG_END: &'static str =
        "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint - 1, \
         9223372036854775807::bigint";
    const EVENTS_HORIZON: &'static str =
        "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint";

    /// One array: one statement, whatever the count.
    fn name_among(_count: usize) -> Cow<'static, str> {
        Cow::Borrowed("name = ANY($3::text[])")
    }

    fn bind_names<'q, O>(query: Query<'q, Self, O>, names: &'q [SecretName]) -> Query<'q, Self, O> {
        query.bind(names.iter().map(SecretName::as_str).collect::<Vec<_>>())
    }

    /// One UPDATE from arrays.
    async fn write_heads(conn: &mut PgConnection, heads: &Heads) -> Result<(), StoreError> {
        let (ids, seqs, hashes) = heads.columns();
        sqlx::query(
            "UPDATE ext_audit_chain c SET head_seq = u.seq, head_hash = u.hash \
             FROM UNNEST($1::bigint[], $2::bigint[], $3::bytea[]) AS u(extension_id, seq, hash) \
             WHERE c.extension_id = u.extension_id",
        )
        .bind(&ids)
        .bind(&seqs)
        .bind(&hashes)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// One UPDATE from arrays.
    async fn rewrite_hashes(conn: &mut PgConnection, page: &Relinked) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE ext_audit_log l SET hash = u.hash \
             FROM UNNEST($2::bigint[], $3::bytea[]) AS u(id, hash) \
             WHERE l.extension_id = $1 AND l.id = u.id",
        )
        .bind(page.extension_id)
        .bind(&page.ids)
        .bind(&page.hashes)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }
}

impl Dialect for Sqlite {
    /// Takes the file's write lock up front, so a check made in the transaction (a
    /// version, a head) cannot be passed by two writers at once, even from two processes.
    const BEGIN_WRITE: &'static str = "BEGIN IMMEDIATE";
    /// A read transaction: one snapshot of the WAL.
    const BEGIN_SNAPSHOT: &'static str = "BEGIN";
    /// The write transaction holds the whole file.
    const ROW_LOCK: &'static str = "";
    /// SQLite's default collation.
    const BYTE_ORDER: &'static str = "";
    /// One writer: ids become visible in order, so the newest id is the end.
    const LOG_END: &'static str = "SELECT 0, COALESCE(MAX(id), 0) FROM ext_invocation_logs";
    const EVENTS_HORIZON: &'static str = "SELECT 1";

    /// No arrays: one parameter per name.
    fn name_among(count: usize) -> Cow<'static, str> {
        let list: Vec<String> = (3..count + 3).map(|i| format!("${i}")).collect();
        Cow::Owned(format!("name IN ({})", list.join(", ")))
    }

    fn bind_names<'q, O>(query: Query<'q, Self, O>, names: &'q [SecretName]) -> Query<'q, Self, O> {
        names
            .iter()
            .fold(query, |query, name| query.bind(name.as_str()))
    }

    /// One UPDATE per head.
    async fn write_heads(conn: &mut SqliteConnection, heads: &Heads) -> Result<(), StoreError> {
        let (ids, seqs, hashes) = heads.columns();
        for ((id, seq), hash) in ids.into_iter().zip(seqs).zip(hashes) {
            sqlx::query(
                "UPDATE ext_audit_chain SET head_seq = $2, head_hash = $3 WHERE extension_id = $1",
            )
            .bind(id)
            .bind(seq)
            .bind(hash)
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }

    /// One UPDATE per record.
    async fn rewrite_hashes(
        conn: &mut SqliteConnection,
        page: &Relinked,
    ) -> Result<(), StoreError> {
        for (id, hash) in page.ids.iter().zip(&page.hashes) {
            sqlx::query("UPDATE ext_audit_log SET hash = $2 WHERE id = $1")
                .bind(id)
                .bind(hash)
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }
}
