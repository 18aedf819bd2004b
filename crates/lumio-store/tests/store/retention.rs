//! Issue 12, item 5: audit retention removes the records stamped before its cut-off and
//! keeps the rest, on both backends, while writers keep writing.
//!
//! The cut-off lies in the future here so that PostgreSQL's whole-day path (detach and
//! drop a partition) and its batched path (the day that straddles the cut-off) both run
//! without waiting for days to pass.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use lumio_store::{AuditQuery, AuditRecord};

use crate::common::{extension, TestDb, STAGING};
use lumio_store::on_each_backend;

on_each_backend!(
    fixture = crate::common::TestDb::on;
    retention_removes_only_records_before_the_cutoff,
    partitions_are_made_ahead_of_time
);

fn record(ext: i64, at: DateTime<Utc>, label: &str) -> AuditRecord {
    AuditRecord {
        at,
        extension_id: ext,
        environment: Some(STAGING),
        event: lumio_core::AuditEvent::SecretGet,
        secret_name: Some("API_KEY".into()),
        actor: None,
        action: Some("callExternalApi".into()),
        request_id: Some(label.into()),
        outcome: Some("found".into()),
        detail: None,
    }
}

async fn labels(store: &dyn lumio_store::Store, ext: i64) -> Vec<String> {
    let entries = store
        .query_audit(&AuditQuery {
            extension_id: ext,
            limit: 100_000,
            ..AuditQuery::default()
        })
        .await
        .expect("query");
    entries
        .into_iter()
        .filter_map(|e| e.record.request_id)
        .collect()
}

async fn retention_removes_only_records_before_the_cutoff(db: &TestDb) {
    let store = db.store().await;
    let now = Utc::now();
    let cutoff = now + Duration::days(6);
    store
        .prepare_audit_log(now + Duration::days(12))
        .await
        .expect("prepare");
    let ext = extension(&*store).await;
    let mut old = vec![
        record(ext, now - Duration::days(40), "old-40d"),
        record(ext, now + Duration::days(3), "old-3d-ahead"),
        record(ext, cutoff - Duration::minutes(1), "old-just-before"),
    ];
    // More than one delete batch, just before the cut-off.
    old.extend(
        (0..4500).map(|i| record(ext, cutoff - Duration::seconds(90), &format!("bulk-{i}"))),
    );
    let kept = vec![
        record(ext, cutoff + Duration::minutes(1), "kept-just-after"),
        record(ext, now + Duration::days(10), "kept-10d-ahead"),
    ];
    store.append_audit(&old).await.expect("append old");
    store.append_audit(&kept).await.expect("append kept");

    // A writer keeps appending (into a day retention keeps) while retention runs.
    let writer_ext = extension(&*store).await;
    let stop = Arc::new(AtomicBool::new(false));
    let writer = tokio::spawn({
        let (store, stop) = (store.clone(), stop.clone());
        async move {
            let mut written = 0;
            while !stop.load(Ordering::Relaxed) {
                let batch: Vec<_> = (0..50)
                    .map(|i| {
                        record(
                            writer_ext,
                            now + Duration::days(8),
                            &format!("w{written}-{i}"),
                        )
                    })
                    .collect();
                store
                    .append_audit(&batch)
                    .await
                    .expect("a writer during retention");
                written += 1;
            }
            written
        }
    });
    let pruned = store.prune_audit(cutoff).await.expect("prune");
    stop.store(true, Ordering::Relaxed);
    let batches = writer.await.expect("writer task");

    let mut left = labels(&*store, ext).await;
    left.sort();
    assert_eq!(left, ["kept-10d-ahead", "kept-just-after"], "{pruned:?}");
    assert_eq!(labels(&*store, writer_ext).await.len(), batches * 50);
    if db.is_postgres() {
        // The pre-partitioning table and at least the day three days ahead went whole.
        assert!(pruned.partitions_dropped >= 2, "{pruned:?}");
    } else {
        assert_eq!(pruned.records_deleted, 4503, "{pruned:?}");
    }

    // Again: nothing but, on SQLite, the first pass's own `audit.pruned` record (stamped
    // now, so before this cut-off in the future; PostgreSQL dropped its day whole).
    let again = store.prune_audit(cutoff).await.expect("prune again");
    assert_eq!(again.partitions_dropped, 0, "{again:?}");
    assert!(again.records_deleted <= 1, "{again:?}");
}

async fn partitions_are_made_ahead_of_time(db: &TestDb) {
    let store = db.store().await;
    let ext = extension(&*store).await;
    let far = Utc::now() + Duration::days(20);
    let early = store.append_audit(&[record(ext, far, "far")]).await;
    if db.is_postgres() {
        // No partition holds that day yet: refused, not lost silently.
        assert!(early.is_err(), "a record with no partition was accepted");
    }
    store.prepare_audit_log(far).await.expect("prepare");
    store.prepare_audit_log(far).await.expect("prepare twice");
    store
        .append_audit(&[record(ext, far, "far-after")])
        .await
        .expect("a record in a prepared day");
    assert!(labels(&*store, ext).await.contains(&"far-after".to_owned()));
}
