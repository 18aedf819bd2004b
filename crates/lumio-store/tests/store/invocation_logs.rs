//! Issue 27: the invocation log every server sees. Round trip, filters and cursors;
//! retention by age and by count; and followers that neither miss nor repeat a row while
//! several stores write at once, including a batch that commits after a later one.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use lumio_store::{LogPosition, LogQuery, NewInvocationLog, Store};

use crate::common::{extension, TestDb, PRODUCTION, STAGING};
use lumio_store::on_each_backend;

on_each_backend!(
    fixture = crate::common::TestDb::on;
    logs_round_trip_with_cursors_and_filters,
    log_retention_removes_old_and_surplus_rows,
    concurrent_writers_are_followed_without_misses_or_repeats
);

fn log(ext: i64, at: DateTime<Utc>, request_id: &str, action: &str) -> NewInvocationLog {
    NewInvocationLog {
        extension_id: ext,
        environment: STAGING,
        at,
        action: action.into(),
        request_id: request_id.into(),
        outcome: "ok".into(),
        duration_ms: 1.5,
        console: r#"[{"level":"info","text":"hello [REDACTED:API_KEY]"}]"#.into(),
        error: None,
        reads: r#"[{"name":"API_KEY","outcome":"found"}]"#.into(),
    }
}

fn query(ext: i64, after: Option<LogPosition>, limit: i64) -> LogQuery<'static> {
    LogQuery {
        extension_id: ext,
        environment: STAGING,
        after,
        action: None,
        since: None,
        limit,
    }
}

fn ids(page: &lumio_store::LogPage) -> Vec<String> {
    page.invocations
        .iter()
        .map(|l| l.request_id.clone())
        .collect()
}

/// A read once no transaction older than the rows it should see is still running. On
/// PostgreSQL that horizon is the whole cluster's: another test's transaction holds rows
/// back for a moment (`held_back`), and a reader asks again, as a follower does.
async fn settled(
    store: &dyn Store,
    query: &LogQuery<'_>,
) -> Result<lumio_store::LogPage, lumio_store::StoreError> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let page = store.invocation_logs(query).await?;
        if !page.held_back || std::time::Instant::now() > deadline {
            return Ok(page);
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

async fn logs_round_trip_with_cursors_and_filters(db: &TestDb) {
    let store = db.store().await;
    let ext = extension(&*store).await;
    let now = Utc::now();
    let first: Vec<_> = (0..3)
        .map(|i| {
            log(
                ext,
                now - Duration::minutes(10 - i),
                &format!("r{i}"),
                "a:one",
            )
        })
        .collect();
    store.append_invocation_logs(&first).await.expect("append");
    let mut other_env = log(ext, now, "prod", "a:one");
    other_env.environment = PRODUCTION;
    store
        .append_invocation_logs(&[other_env])
        .await
        .expect("append production");

    let newest = settled(&*store, &query(ext, None, 2)).await.unwrap();
    assert_eq!(ids(&newest), ["r2", "r1"], "newest first, limited");
    let row = &newest.invocations[0];
    assert_eq!(row.console, first[2].console);
    assert_eq!(row.reads, first[2].reads);
    assert_eq!((row.action.as_str(), row.duration_ms), ("a:one", 1.5));
    assert_eq!(row.at, first[2].at.trunc_subsecs_micros());
    let cursor = newest.cursor;
    assert_eq!(cursor.to_string().parse::<LogPosition>(), Ok(cursor));

    let nothing = settled(&*store, &query(ext, Some(cursor), 10))
        .await
        .unwrap();
    assert!(nothing.invocations.is_empty());
    assert!(nothing.cursor >= cursor, "never goes back");

    let later: Vec<_> = (3..8)
        .map(|i| {
            let action = if i % 2 == 0 { "a:even" } else { "a:odd" };
            log(ext, now, &format!("r{i}"), action)
        })
        .collect();
    store.append_invocation_logs(&later).await.expect("append");
    // Paged oldest first: a full page's cursor is its last row, so nothing is skipped.
    let page = settled(&*store, &query(ext, Some(nothing.cursor), 3))
        .await
        .unwrap();
    assert_eq!(ids(&page), ["r3", "r4", "r5"]);
    let page = settled(&*store, &query(ext, Some(page.cursor), 3))
        .await
        .unwrap();
    assert_eq!(ids(&page), ["r6", "r7"]);
    let done = settled(&*store, &query(ext, Some(page.cursor), 3))
        .await
        .unwrap();
    assert!(done.invocations.is_empty(), "{:?}", ids(&done));

    let even = settled(
        &*store,
        &LogQuery {
            action: Some("a:even"),
            ..query(ext, Some(nothing.cursor), 10)
        },
    )
    .await
    .unwrap();
    assert_eq!(ids(&even), ["r4", "r6"]);
    let recent = settled(
        &*store,
        &LogQuery {
            since: Some(now - Duration::minutes(9)),
            ..query(ext, None, 100)
        },
    )
    .await
    .unwrap();
    assert_eq!(ids(&recent), ["r7", "r6", "r5", "r4", "r3", "r2", "r1"]);

    for bad in [
        "",
        "1",
        "a-1",
        "1-",
        "-1-2",
        "1-2-3",
        "99999999999999999999-1",
    ] {
        assert!(bad.parse::<LogPosition>().is_err(), "{bad:?}");
    }
}

async fn log_retention_removes_old_and_surplus_rows(db: &TestDb) {
    let store = db.store().await;
    let (busy, quiet) = (extension(&*store).await, extension(&*store).await);
    let now = Utc::now();
    let old: Vec<_> = (0..2100)
        .map(|i| log(quiet, now - Duration::days(8), &format!("old{i}"), "a:b"))
        .collect();
    store.append_invocation_logs(&old).await.unwrap();
    store
        .append_invocation_logs(&[log(quiet, now, "fresh", "a:b")])
        .await
        .unwrap();
    let many: Vec<_> = (0..2500)
        .map(|i| log(busy, now, &format!("n{i}"), "a:b"))
        .collect();
    store.append_invocation_logs(&many).await.unwrap();

    let pruned = store
        .prune_invocation_logs(now - Duration::days(7), 2200)
        .await
        .expect("prune");
    assert_eq!((pruned.expired, pruned.over_cap), (2100, 300), "{pruned:?}");
    let left = settled(&*store, &query(quiet, None, 200)).await.unwrap();
    assert_eq!(ids(&left), ["fresh"]);
    let newest = settled(&*store, &query(busy, None, 1)).await.unwrap();
    assert_eq!(ids(&newest), ["n2499"], "the newest are kept");
    let oldest_kept = settled(&*store, &query(busy, Some(LogPosition::default()), 1))
        .await
        .unwrap();
    assert_eq!(ids(&oldest_kept), ["n300"]);
}

/// Reads on after `cursor` until `seen` holds `want` rows or nothing more comes for 10 s
/// (on PostgreSQL another transaction of the cluster may hold rows back for a moment).
async fn drain(
    store: &dyn Store,
    ext: i64,
    cursor: &mut LogPosition,
    seen: &mut Vec<String>,
    want: usize,
) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while seen.len() < want && std::time::Instant::now() < deadline {
        let page = store
            .invocation_logs(&query(ext, Some(*cursor), 50))
            .await
            .expect("follow");
        seen.extend(ids(&page));
        *cursor = page.cursor;
        if page.invocations.is_empty() {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

async fn concurrent_writers_are_followed_without_misses_or_repeats(db: &TestDb) {
    let (a, b) = (db.store().await, db.store().await);
    let ext = extension(&*a).await;
    let mut cursor = a
        .invocation_logs(&query(ext, None, 1))
        .await
        .unwrap()
        .cursor;
    let mut seen = Vec::new();

    if db.is_postgres() {
        // A batch that takes the smaller id but commits after a later one with a larger
        // id: a follower reading in between must not step over it.
        let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
        let mut held = pool.begin().await.unwrap();
        sqlx::query(
            "INSERT INTO ext_invocation_logs (extension_id, environment, at, action, \
             request_id, outcome, duration_ms, console, reads) \
             VALUES ($1, 'staging', now(), 'a:b', 'held', 'ok', 1, '[]', '[]')",
        )
        .bind(ext)
        .execute(&mut *held)
        .await
        .unwrap();
        b.append_invocation_logs(&[log(ext, Utc::now(), "after-held", "a:b")])
            .await
            .unwrap();
        for _ in 0..3 {
            let page = a
                .invocation_logs(&query(ext, Some(cursor), 50))
                .await
                .unwrap();
            assert!(
                page.invocations.is_empty(),
                "read past a batch still in progress: {:?}",
                ids(&page)
            );
            cursor = page.cursor;
        }
        held.commit().await.unwrap();
        drain(&*a, ext, &mut cursor, &mut seen, 2).await;
        assert_eq!(seen, ["held", "after-held"]);
        seen.clear();
    }

    // Writers on two stores (two servers' pools) while a follower reads.
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = [a.clone(), b.clone(), a.clone(), b.clone()]
        .into_iter()
        .enumerate()
        .map(|(w, store)| {
            tokio::spawn(async move {
                let mut written = Vec::new();
                for round in 0..40 {
                    let batch: Vec<_> = (0..7)
                        .map(|i| log(ext, Utc::now(), &format!("w{w}-{round}-{i}"), "a:b"))
                        .collect();
                    store.append_invocation_logs(&batch).await.expect("write");
                    written.extend(batch.into_iter().map(|l| l.request_id));
                }
                written
            })
        })
        .collect();
    let follower = tokio::spawn({
        let (store, stop) = (b.clone(), stop.clone());
        async move {
            let mut seen = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let page = store
                    .invocation_logs(&query(ext, Some(cursor), 13))
                    .await
                    .expect("follow");
                seen.extend(ids(&page));
                cursor = page.cursor;
            }
            drain(&*store, ext, &mut cursor, &mut seen, 4 * 40 * 7).await;
            seen
        }
    });
    let mut written = BTreeSet::new();
    for writer in writers {
        written.extend(writer.await.unwrap());
    }
    stop.store(true, Ordering::Relaxed);
    let seen = follower.await.unwrap();
    let unique: BTreeSet<_> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "an invocation was read twice");
    assert_eq!(unique, written, "an invocation was missed");
}

/// PostgreSQL's precision, which both stores keep.
trait Micros {
    fn trunc_subsecs_micros(self) -> Self;
}

impl Micros for DateTime<Utc> {
    fn trunc_subsecs_micros(self) -> Self {
        use chrono::SubsecRound;
        self.trunc_subsecs(6)
    }
}
