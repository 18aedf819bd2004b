//! Issue 28: the outbox is filled in each change's own transaction (the PostgreSQL
//! single-statement write included), reads and refused changes make no event, events
//! become deliveries in commit order per receiver, the lease has one holder, and
//! retention removes what is finished.

use chrono::{Duration, Utc};
use lumio_core::{AuditEvent, EventFilter};
use lumio_store::{AttemptResult, AuditRecord, NextStep, Store, StoreError, WebhookRecord};

use crate::common::{extension, write, TestDb, STAGING};
use lumio_store::on_each_backend;

on_each_backend!(
    fixture = crate::common::TestDb::on;
    changes_become_deliveries_in_order_and_reads_do_not,
    the_lease_has_one_holder_until_it_runs_out,
    retention_removes_finished_deliveries_only
);

fn record(extension_id: i64, event: AuditEvent, detail: &str) -> AuditRecord {
    AuditRecord {
        at: Utc::now(),
        extension_id,
        environment: Some(STAGING),
        event,
        secret_name: Some("API_KEY".into()),
        actor: Some("tok_test".into()),
        action: None,
        request_id: None,
        outcome: Some("ok".into()),
        detail: Some(detail.into()),
    }
}

async fn receiver(store: &dyn Store, extension_id: i64, id: &str, events: &str) {
    let hook = WebhookRecord {
        id: id.into(),
        extension_id,
        url: "https://hooks.example.com/in".into(),
        events: EventFilter::parse(events).unwrap(),
        environment: None,
        secret_sealed: b"sealed-signing-secret".to_vec(),
        kek_id: "00ff".into(),
        created_at: Utc::now() - Duration::seconds(1),
        created_by: "tok_test".into(),
    };
    store.insert_webhook(&hook, &[]).await.unwrap();
}

async fn set(store: &dyn Store, ext: i64, latest: i64) -> Result<(), StoreError> {
    let audit = [record(
        ext,
        AuditEvent::SecretSet,
        &format!("version {}", latest + 1),
    )];
    store
        .write_versions(ext, STAGING, &[write("API_KEY", latest)], 100, &audit)
        .await
}

async fn deliver_next(store: &dyn Store, webhook: &str) -> Option<String> {
    let due = store
        .due_deliveries(Utc::now(), 10, Some(webhook))
        .await
        .unwrap();
    let next = due.into_iter().next()?;
    let result = AttemptResult {
        delivery_id: next.id,
        at: Utc::now(),
        status: Some(200),
        error: None,
        next: NextStep::Delivered,
    };
    store.record_attempt(&result, &[]).await.unwrap();
    Some(format!(
        "{} {}",
        next.event.event,
        next.event.detail.unwrap_or_default()
    ))
}

/// Fans out until `ext` has `count` deliveries. On PostgreSQL an event waits for every
/// older transaction in the cluster (other tests' included) to end first.
async fn fan_out(store: &dyn Store, ext: i64, count: usize) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        store.fan_out_events(Utc::now()).await.unwrap();
        let made = store.deliveries(ext, false, 50).await.unwrap().len();
        if made >= count || std::time::Instant::now() > deadline {
            assert_eq!(made, count);
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

async fn changes_become_deliveries_in_order_and_reads_do_not(db: &TestDb) {
    let store = db.store().await;
    let (ext, other) = (extension(&*store).await, extension(&*store).await);
    receiver(&*store, ext, "wh_mine", "secret.*").await;
    receiver(&*store, other, "wh_other", "*").await;
    for latest in 0..3 {
        set(&*store, ext, latest).await.unwrap();
    }
    // A write that loses its version check changes nothing and makes no event.
    assert!(matches!(
        set(&*store, ext, 0).await,
        Err(StoreError::VersionConflict)
    ));
    // Reads are recorded by the audit writer, never as events.
    store
        .append_audit(&[record(ext, AuditEvent::SecretGet, "1 read")])
        .await
        .unwrap();
    fan_out(&*store, ext, 3).await;

    let mut got = Vec::new();
    while let Some(next) = deliver_next(&*store, "wh_mine").await {
        got.push(next);
    }
    assert_eq!(
        got,
        [
            "secret.set version 1",
            "secret.set version 2",
            "secret.set version 3"
        ]
    );
    assert_eq!(
        deliver_next(&*store, "wh_other").await,
        None,
        "another extension's"
    );
    let listed = store.deliveries(ext, false, 50).await.unwrap();
    assert_eq!(listed.len(), 3);
    assert!(listed
        .iter()
        .all(|d| d.state == "delivered" && d.attempts == 1));
    // A second pass finds nothing new.
    assert_eq!(store.fan_out_events(Utc::now()).await.unwrap(), 0);
}

async fn the_lease_has_one_holder_until_it_runs_out(db: &TestDb) {
    let store = db.store().await;
    let now = Utc::now();
    let until = now + Duration::seconds(30);
    assert!(store.take_lease("t", "a", now, until).await.unwrap());
    assert!(!store.take_lease("t", "b", now, until).await.unwrap());
    assert!(
        store.take_lease("t", "a", now, until).await.unwrap(),
        "renewed"
    );
    let later = until + Duration::seconds(1);
    assert!(store
        .take_lease("t", "b", later, later + Duration::seconds(30))
        .await
        .unwrap());
    assert!(!store.take_lease("t", "a", later, later).await.unwrap());
    store.release_lease("t", "b").await.unwrap();
    assert!(store.take_lease("t", "a", later, later).await.unwrap());
}

async fn retention_removes_finished_deliveries_only(db: &TestDb) {
    let store = db.store().await;
    let ext = extension(&*store).await;
    receiver(&*store, ext, "wh_keep", "*").await;
    set(&*store, ext, 0).await.unwrap();
    set(&*store, ext, 1).await.unwrap();
    fan_out(&*store, ext, 2).await;
    deliver_next(&*store, "wh_keep").await.unwrap();
    let removed = store
        .prune_webhook_deliveries(Utc::now() + Duration::days(1))
        .await
        .unwrap();
    assert_eq!(removed, 2, "the delivered delivery and its event");
    let left = store.deliveries(ext, false, 50).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].state, "pending");
    assert_eq!(
        deliver_next(&*store, "wh_keep").await.as_deref(),
        Some("secret.set version 2"),
        "a pending delivery keeps its event"
    );
}
