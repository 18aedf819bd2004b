//! Action invocation logs (`lumio logs`), the same SQL on both backends.
//!
//! A row's position is `(tx, id)`: on PostgreSQL `tx` is its inserting transaction's id,
//! and a read sees only rows of transactions older than every one still in progress
//! (`Dialect::LOG_END`, taken in the read's own snapshot). Ids from the sequence can
//! become visible out of order (two servers' batches commit in either order), but a
//! transaction id below the snapshot's horizon can never gain rows later: a follower
//! reading in `(tx, id)` order after its cursor neither misses nor repeats a row. On
//! SQLite, with its one writer, `tx` is 0 and ids become visible in order.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use lumio_core::Environment;

use crate::stamp::Stamp;
use crate::{rows, StoreError};

/// Rows per INSERT: 10 binds each, far under SQLite's 32,766-parameter limit.
pub(crate) const ROWS_PER_INSERT: usize = 1000;

pub(crate) const INSERT: &str = "INSERT INTO ext_invocation_logs (extension_id, environment, \
     at, action, request_id, outcome, duration_ms, console, error, reads) ";

/// The columns [`LogRow`] reads.
pub(crate) const COLUMNS: &str =
    "tx, id, at, action, request_id, outcome, duration_ms, console, error, reads";

/// Where a follower is in an environment's log: everything up to and including this
/// position has been read. Its text form (`tx-id`) is the API's opaque cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct LogPosition {
    pub tx: i64,
    pub id: i64,
}

impl fmt::Display for LogPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.tx, self.id)
    }
}

impl FromStr for LogPosition {
    type Err = ();

    fn from_str(text: &str) -> Result<Self, ()> {
        let (tx, id) = text.split_once('-').ok_or(())?;
        let number = |part: &str| {
            (!part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
                .then(|| part.parse::<i64>().ok())
                .flatten()
                .ok_or(())
        };
        Ok(Self {
            tx: number(tx)?,
            id: number(id)?,
        })
    }
}

/// One invocation to store. `console` and `reads` are JSON arrays made by the caller:
/// console text already masked, reads names and outcomes only, never a value.
#[derive(Debug, Clone)]
pub struct NewInvocationLog {
    pub extension_id: i64,
    pub environment: Environment,
    pub at: DateTime<Utc>,
    pub action: String,
    pub request_id: String,
    pub outcome: String,
    pub duration_ms: f64,
    pub console: String,
    pub error: Option<String>,
    pub reads: String,
}

/// One stored invocation.
#[derive(Debug, Clone)]
pub struct StoredInvocationLog {
    pub position: LogPosition,
    pub at: DateTime<Utc>,
    pub action: String,
    pub request_id: String,
    pub outcome: String,
    pub duration_ms: f64,
    /// JSON, as written.
    pub console: String,
    pub error: Option<String>,
    /// JSON, as written.
    pub reads: String,
}

/// Which invocations to read.
#[derive(Debug, Clone)]
pub struct LogQuery<'a> {
    pub extension_id: i64,
    pub environment: Environment,
    /// `None`: the newest, newest first. `Some`: those after it, oldest first.
    pub after: Option<LogPosition>,
    pub action: Option<&'a str>,
    pub since: Option<DateTime<Utc>>,
    pub limit: i64,
}

/// A page of invocations and the position to read on from.
#[derive(Debug, Clone)]
pub struct LogPage {
    pub invocations: Vec<StoredInvocationLog>,
    /// After the last invocation returned, or (when the page is not full) after
    /// everything that may be read yet, filtered out or not.
    pub cursor: LogPosition,
    /// Rows of the environment past the cursor are committed but not readable yet: a
    /// transaction older than theirs is still in progress (PostgreSQL). Ask again shortly.
    pub held_back: bool,
}

/// What a log retention pass removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogsPruned {
    /// Older than the cut-off.
    pub expired: u64,
    /// Beyond the newest `keep` of an extension and environment.
    pub over_cap: u64,
}

pub(crate) type LogRow = (
    i64,
    i64,
    Stamp,
    String,
    String,
    String,
    f64,
    String,
    Option<String>,
    String,
);

pub(crate) fn stored(
    (tx, id, at, action, request_id, outcome, duration_ms, console, error, reads): LogRow,
) -> StoredInvocationLog {
    StoredInvocationLog {
        position: LogPosition { tx, id },
        at: at.0,
        action,
        request_id,
        outcome,
        duration_ms,
        console,
        error,
        reads,
    }
}

/// Whether extension `$1`'s environment `$2` has rows past position (`$3`, `$4`).
pub(crate) const PAST_END: &str = "SELECT EXISTS (SELECT 1 FROM ext_invocation_logs \
     WHERE extension_id = $1 AND environment = $2 AND (tx, id) > ($3, $4))";

/// Environments holding more than `$1` rows.
pub(crate) const OVER_CAP: &str = "SELECT extension_id, environment FROM ext_invocation_logs \
     GROUP BY extension_id, environment HAVING COUNT(*) > $1";

/// Up to `$4` rows of extension `$1`'s environment `$2` beyond its newest `$3`.
pub(crate) const DELETE_OVER_CAP: &str = "DELETE FROM ext_invocation_logs WHERE id IN \
     (SELECT id FROM ext_invocation_logs WHERE extension_id = $1 AND environment = $2 \
      AND id <= (SELECT id FROM ext_invocation_logs WHERE extension_id = $1 \
                 AND environment = $2 ORDER BY id DESC LIMIT 1 OFFSET $3) \
      ORDER BY id LIMIT $4)";

/// Up to `$2` rows stamped before `$1`.
pub(crate) const DELETE_EXPIRED: &str = "DELETE FROM ext_invocation_logs WHERE id IN \
     (SELECT id FROM ext_invocation_logs WHERE at < $1 ORDER BY at LIMIT $2)";

pub(crate) fn environment(column: &str) -> Result<Environment, StoreError> {
    rows::environment(column)
}

/// The invocation log methods as inherent methods of a store (see [`crate::store_impl`]).
macro_rules! log_queries {
    ($store:ty, $db:ty) => {
        impl $store {
            pub(crate) async fn insert_logs(
                &self,
                batch: &[$crate::NewInvocationLog],
            ) -> Result<(), $crate::StoreError> {
                if batch.is_empty() {
                    return Ok(());
                }
                let mut tx = self.begin_write().await?;
                for chunk in batch.chunks($crate::invocation_logs::ROWS_PER_INSERT) {
                    let mut sql = sqlx::QueryBuilder::<$db>::new($crate::invocation_logs::INSERT);
                    sql.push_values(chunk, |mut row, r| {
                        row.push_bind(r.extension_id)
                            .push_bind(r.environment.as_str())
                            .push_bind($crate::stamp::Stamp(r.at))
                            .push_bind(&r.action)
                            .push_bind(&r.request_id)
                            .push_bind(&r.outcome)
                            .push_bind(r.duration_ms)
                            .push_bind(&r.console)
                            .push_bind(&r.error)
                            .push_bind(&r.reads);
                    });
                    sql.build().execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            pub(crate) async fn select_logs(
                &self,
                query: &$crate::LogQuery<'_>,
            ) -> Result<$crate::LogPage, $crate::StoreError> {
                use $crate::dialect::Dialect;
                // One snapshot for the horizon and the rows, so nothing falls between.
                let mut tx = self.begin_snapshot().await?;
                let (end_tx, end_id): (i64, i64) =
                    sqlx::query_as(<$db>::LOG_END).fetch_one(&mut *tx).await?;
                let end = $crate::LogPosition {
                    tx: end_tx,
                    id: end_id,
                };
                let mut sql = sqlx::QueryBuilder::<$db>::new(format!(
                    "SELECT {} FROM ext_invocation_logs WHERE extension_id = ",
                    $crate::invocation_logs::COLUMNS
                ));
                sql.push_bind(query.extension_id)
                    .push(" AND environment = ")
                    .push_bind(query.environment.as_str())
                    .push(" AND (tx, id) <= (")
                    .push_bind(end.tx)
                    .push(", ")
                    .push_bind(end.id)
                    .push(")");
                if let Some(after) = query.after {
                    sql.push(" AND (tx, id) > (")
                        .push_bind(after.tx)
                        .push(", ")
                        .push_bind(after.id)
                        .push(")");
                }
                if let Some(action) = query.action {
                    sql.push(" AND action = ").push_bind(action);
                }
                if let Some(since) = query.since {
                    sql.push(" AND at >= ")
                        .push_bind($crate::stamp::Stamp(since));
                }
                let order = if query.after.is_some() { "" } else { " DESC" };
                sql.push(format!(" ORDER BY tx{order}, id{order} LIMIT "))
                    .push_bind(query.limit.max(0));
                let found: Vec<$crate::invocation_logs::LogRow> =
                    sql.build_query_as().fetch_all(&mut *tx).await?;
                let held_back: bool = sqlx::query_scalar($crate::invocation_logs::PAST_END)
                    .bind(query.extension_id)
                    .bind(query.environment.as_str())
                    .bind(end.tx)
                    .bind(end.id)
                    .fetch_one(&mut *tx)
                    .await?;
                tx.commit().await?;
                let full = found.len() as i64 >= query.limit;
                let invocations: Vec<_> = found
                    .into_iter()
                    .map($crate::invocation_logs::stored)
                    .collect();
                let cursor = match (query.after, invocations.last()) {
                    // A full page read on: the next one starts after its last row.
                    (Some(_), Some(last)) if full => last.position,
                    // Never behind where the caller already was.
                    (Some(after), _) => end.max(after),
                    (None, _) => end,
                };
                Ok($crate::LogPage {
                    invocations,
                    cursor,
                    held_back,
                })
            }

            pub(crate) async fn prune_logs(
                &self,
                cutoff: chrono::DateTime<chrono::Utc>,
                keep: i64,
            ) -> Result<$crate::LogsPruned, $crate::StoreError> {
                use $crate::retention::{BATCH_PAUSE, DELETE_BATCH};
                let mut pruned = $crate::LogsPruned::default();
                loop {
                    let deleted = sqlx::query($crate::invocation_logs::DELETE_EXPIRED)
                        .bind($crate::stamp::Stamp(cutoff))
                        .bind(DELETE_BATCH)
                        .execute(self.writer())
                        .await?
                        .rows_affected();
                    pruned.expired += deleted;
                    if deleted < DELETE_BATCH as u64 {
                        break;
                    }
                    tokio::time::sleep(BATCH_PAUSE).await;
                }
                let over: Vec<(i64, String)> = sqlx::query_as($crate::invocation_logs::OVER_CAP)
                    .bind(keep)
                    .fetch_all(self.readers())
                    .await?;
                for (extension_id, environment) in over {
                    let environment = $crate::invocation_logs::environment(&environment)?;
                    loop {
                        let deleted = sqlx::query($crate::invocation_logs::DELETE_OVER_CAP)
                            .bind(extension_id)
                            .bind(environment.as_str())
                            .bind(keep)
                            .bind(DELETE_BATCH)
                            .execute(self.writer())
                            .await?
                            .rows_affected();
                        pruned.over_cap += deleted;
                        if deleted < DELETE_BATCH as u64 {
                            break;
                        }
                        tokio::time::sleep(BATCH_PAUSE).await;
                    }
                }
                Ok(pruned)
            }
        }
    };
}
pub(crate) use log_queries;
