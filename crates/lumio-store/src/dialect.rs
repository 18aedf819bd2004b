//! Where the SQL of the two databases differs for the queries written once, side by side.

use std::borrow::Cow;

use lumio_core::SecretName;
use sqlx::query::QueryAs;
use sqlx::{Database, Postgres, Sqlite};

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
    /// A condition that `name` is one of `count` names, from parameter `$3` on.
    fn name_among(count: usize) -> Cow<'static, str>;
    /// Binds `names` as [`Self::name_among`] expects them.
    fn bind_names<'q, O>(query: Query<'q, Self, O>, names: &'q [SecretName]) -> Query<'q, Self, O>;
}

impl Dialect for Postgres {
    const BEGIN_WRITE: &'static str = "BEGIN";
    const BEGIN_SNAPSHOT: &'static str = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
    const ROW_LOCK: &'static str = " FOR UPDATE";
    /// Whatever the database's locale.
    const BYTE_ORDER: &'static str = " COLLATE \"C\"";

    /// One array: one statement, whatever the count.
    fn name_among(_count: usize) -> Cow<'static, str> {
        Cow::Borrowed("name = ANY($3::text[])")
    }

    fn bind_names<'q, O>(query: Query<'q, Self, O>, names: &'q [SecretName]) -> Query<'q, Self, O> {
        query.bind(names.iter().map(SecretName::as_str).collect::<Vec<_>>())
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
}
