//! The audit log's daily partitions on PostgreSQL: creating them ahead of time, and
//! retention dropping the old ones.
//!
//! Partitions are named for what they hold, so their bounds are read from their names:
//! `ext_audit_log_pYYYYMMDD` holds that UTC day, `ext_audit_log_upto_YYYYMMDD` (the log as
//! it was before partitioning) everything before that day.

use chrono::{DateTime, Days, NaiveDate, Utc};
use sqlx::{Executor, PgConnection};

use super::PgStore;
use crate::retention::{BATCH_PAUSE, DELETE_BATCH};
use crate::{AuditPruned, StoreError};

/// One server at a time creates or drops partitions (an advisory lock's key).
const MAINTENANCE_LOCK: i64 = 0x6c75_6d69_6f5f_6175; // "lumio_au"

const DAY_PREFIX: &str = "ext_audit_log_p";
const UPTO_PREFIX: &str = "ext_audit_log_upto_";

/// A partition of the audit log and the days it covers: `[from, to)`, `from` `None` for
/// the one that starts at the beginning of time.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Partition {
    name: String,
    from: Option<NaiveDate>,
    to: NaiveDate,
}

impl Partition {
    fn parse(name: &str) -> Option<Self> {
        let date = |s: &str| NaiveDate::parse_from_str(s, "%Y%m%d").ok();
        if let Some(day) = name.strip_prefix(UPTO_PREFIX).and_then(date) {
            return Some(Self {
                name: name.to_owned(),
                from: None,
                to: day,
            });
        }
        let day = name.strip_prefix(DAY_PREFIX).and_then(date)?;
        Some(Self {
            name: name.to_owned(),
            from: Some(day),
            to: day.checked_add_days(Days::new(1))?,
        })
    }

    fn day(day: NaiveDate) -> Self {
        Self::parse(&format!("{DAY_PREFIX}{}", day.format("%Y%m%d"))).expect("a valid name")
    }

    fn covers(&self, day: NaiveDate) -> bool {
        self.from.is_none_or(|from| from <= day) && day < self.to
    }
}

fn midnight(day: NaiveDate) -> String {
    format!("{} 00:00:00+00", day.format("%Y-%m-%d"))
}

impl PgStore {
    pub(super) async fn create_audit_partitions(
        &self,
        until: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        if !try_lock(&mut conn).await? {
            return Ok(()); // another server is at it
        }
        // From yesterday: a record stamped just before midnight may arrive just after.
        let today = Utc::now().date_naive();
        let from = today.checked_sub_days(Days::new(1)).unwrap_or(today);
        let done = create_missing(&mut conn, from, until.date_naive()).await;
        unlock(&mut conn).await?;
        done
    }

    pub(super) async fn prune_audit_before(
        &self,
        cutoff: DateTime<Utc>,
    ) -> Result<AuditPruned, StoreError> {
        if !self.audit_root.is_set() {
            // The anchors can only move with a keyed record: no pass before the key.
            return Ok(AuditPruned::default());
        }
        let mut conn = self.pool.acquire().await?;
        if !try_lock(&mut conn).await? {
            return Ok(AuditPruned::default());
        }
        // Sealed first, then the anchors move (each with its `audit.pruned` record) to
        // the last record to be removed, so verify starts after what goes.
        let done = match self.seal_pending(None).await {
            Ok(_) => match self.move_anchors(cutoff).await {
                Ok(()) => prune(&mut conn, cutoff).await,
                Err(err) => Err(err),
            },
            Err(err) => Err(err),
        };
        unlock(&mut conn).await?;
        done
    }
}

async fn try_lock(conn: &mut PgConnection) -> Result<bool, StoreError> {
    Ok(sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(MAINTENANCE_LOCK)
        .fetch_one(&mut *conn)
        .await?)
}

async fn unlock(conn: &mut PgConnection) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(MAINTENANCE_LOCK)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The audit log's partitions, and whether each is still being detached (a retention
/// pass interrupted between DETACH CONCURRENTLY's two transactions).
async fn partitions(conn: &mut PgConnection) -> Result<Vec<(Partition, bool)>, StoreError> {
    let rows: Vec<(String, bool)> = sqlx::query_as(
        "SELECT c.relname::text, i.inhdetachpending FROM pg_inherits i \
         JOIN pg_class c ON c.oid = i.inhrelid \
         WHERE i.inhparent = 'ext_audit_log'::regclass",
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(name, pending)| Some((Partition::parse(&name)?, pending)))
        .collect())
}

async fn create_missing(
    conn: &mut PgConnection,
    from: NaiveDate,
    until: NaiveDate,
) -> Result<(), StoreError> {
    let existing = partitions(conn).await?;
    let mut day = from;
    while day <= until {
        if !existing.iter().any(|(p, _)| p.covers(day)) {
            let p = Partition::day(day);
            let sql = format!(
                "CREATE TABLE IF NOT EXISTS \"{}\" PARTITION OF ext_audit_log \
                 FOR VALUES FROM ('{}') TO ('{}')",
                p.name,
                midnight(day),
                midnight(p.to)
            );
            conn.execute(&*sql).await?;
            tracing::info!(partition = %p.name, "created an audit log partition");
        }
        match day.checked_add_days(Days::new(1)) {
            Some(next) => day = next,
            None => break,
        }
    }
    Ok(())
}

async fn prune(conn: &mut PgConnection, cutoff: DateTime<Utc>) -> Result<AuditPruned, StoreError> {
    let mut pruned = AuditPruned::default();
    let cutoff_day = cutoff.date_naive();
    for (partition, detaching) in partitions(conn).await? {
        if partition.to <= cutoff_day {
            drop_partition(conn, &partition.name, detaching).await?;
            pruned.partitions_dropped += 1;
        } else if partition.from.is_none_or(|from| from <= cutoff_day) {
            pruned.records_deleted += delete_rows_before(conn, &partition.name, cutoff).await?;
        }
    }
    Ok(pruned)
}

/// DETACH ... CONCURRENTLY takes no lock that blocks writers (it waits for them instead);
/// the detached table is then dropped on its own. FINALIZE completes a detach that an
/// earlier pass started and did not finish.
async fn drop_partition(
    conn: &mut PgConnection,
    name: &str,
    detaching: bool,
) -> Result<(), StoreError> {
    let detach = if detaching {
        format!("ALTER TABLE ext_audit_log DETACH PARTITION \"{name}\" FINALIZE")
    } else {
        format!("ALTER TABLE ext_audit_log DETACH PARTITION \"{name}\" CONCURRENTLY")
    };
    conn.execute(&*detach).await?;
    conn.execute(&*format!("DROP TABLE IF EXISTS \"{name}\""))
        .await?;
    tracing::info!(partition = %name, "dropped an audit log partition (retention)");
    Ok(())
}

/// Deletes a partition's records stamped before `cutoff`, [`DELETE_BATCH`] per statement
/// (each its own transaction), pausing between batches.
async fn delete_rows_before(
    conn: &mut PgConnection,
    partition: &str,
    cutoff: DateTime<Utc>,
) -> Result<u64, StoreError> {
    // Never a sealed record after its chain's anchor: one sealed since the anchor moved.
    let sql = format!(
        "DELETE FROM \"{partition}\" WHERE ctid = ANY(ARRAY(\
         SELECT l.ctid FROM \"{partition}\" l \
         LEFT JOIN ext_audit_chain c ON c.extension_id = l.extension_id \
         WHERE l.at < $1 AND (l.seq IS NULL OR c.anchor_seq IS NULL OR l.seq <= c.anchor_seq) \
         LIMIT $2))"
    );
    let mut deleted = 0;
    loop {
        let n = sqlx::query(&sql)
            .bind(cutoff)
            .bind(DELETE_BATCH)
            .execute(&mut *conn)
            .await?
            .rows_affected();
        deleted += n;
        if n < DELETE_BATCH as u64 {
            return Ok(deleted);
        }
        tokio::time::sleep(BATCH_PAUSE).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn bounds_are_read_from_partition_names() {
        let day = Partition::parse("ext_audit_log_p20261202").unwrap();
        assert_eq!(day.from, Some(date("2026-12-02")));
        assert_eq!(day.to, date("2026-12-03"));
        assert!(day.covers(date("2026-12-02")));
        assert!(!day.covers(date("2026-12-03")));
        let old = Partition::parse("ext_audit_log_upto_20261203").unwrap();
        assert_eq!((old.from, old.to), (None, date("2026-12-03")));
        assert!(old.covers(date("1999-01-01")));
        assert!(!old.covers(date("2026-12-03")));
        assert_eq!(Partition::parse("ext_audit_log_p2026120"), None);
        assert_eq!(Partition::parse("other"), None);
    }
}
