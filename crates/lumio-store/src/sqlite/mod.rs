//! The SQLite store: the embedded default, one file, same behaviour as PostgreSQL.
//! Its change feed is local to the process that owns the store.

mod audit;
mod chain;
mod write;

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::Sqlite;

use crate::feed::Feed;
use crate::store_impl::{impl_store, Backend};
use crate::{Change, StoreError};

const READERS: u32 = 4;
/// How long a write waits for another process holding the file's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// A [`Store`](crate::Store) in a SQLite file.
pub struct SqliteStore {
    /// One connection: SQLite runs one writer at a time anyway, and queueing in the pool
    /// is fairer and cheaper than connections spinning on the busy handler.
    writer: SqlitePool,
    readers: SqlitePool,
    feed: Feed,
    /// The key the audit chains are linked with, once the service gave it.
    audit_root: crate::chain::RootSlot,
}

impl SqliteStore {
    /// Opens (creating if missing) the file a `sqlite://PATH` URL names, in WAL mode with
    /// `synchronous = FULL` so every commit survives power loss, and runs the migrations.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .after_release(|conn, _| Box::pin(still_usable(conn)))
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&writer).await?;
        let readers = SqlitePoolOptions::new()
            .max_connections(READERS)
            .connect_with(options)
            .await?;
        Ok(Self {
            writer,
            readers,
            feed: Feed::new(),
            audit_root: Default::default(),
        })
    }
}

/// Whether a writer connection going back to the pool can serve the next write. After a
/// failed COMMIT (a full disk) SQLite may already have rolled the transaction back, so
/// sqlx's own ROLLBACK fails and its count of open transactions stays at one: every later
/// `BEGIN` on that connection would fail until a restart. Such a connection is closed (the
/// pool opens a fresh one). The ping lets the rollback sqlx queued on drop run first.
async fn still_usable(conn: &mut sqlx::SqliteConnection) -> Result<bool, sqlx::Error> {
    use sqlx::Connection;
    conn.ping().await?;
    let usable = !conn.is_in_transaction();
    if !usable {
        tracing::warn!("closing a SQLite writer connection left inside a failed transaction");
    }
    Ok(usable)
}

impl Backend for SqliteStore {
    type Db = Sqlite;

    fn readers(&self) -> &SqlitePool {
        &self.readers
    }

    fn writer(&self) -> &SqlitePool {
        &self.writer
    }
}

impl SqliteStore {
    /// The feed of a SQLite store reaches this process only.
    async fn tell(&self, changes: impl IntoIterator<Item = Change>) {
        for change in changes {
            self.feed.send(change);
        }
    }
}

impl_store!(SqliteStore, Sqlite, "sqlite", {
    /// One table, nothing to prepare.
    async fn prepare_audit_log(&self, _until: DateTime<Utc>) -> Result<(), StoreError> {
        Ok(())
    }
});
