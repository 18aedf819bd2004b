//! The audit log: append in batches, read newest first with filters and paging.

use chrono::{DateTime, SubsecRound, TimeZone, Utc};
use lumio_store::{AuditQuery, AuditRecord};

use crate::common::{extension, TestDb, PRODUCTION, STAGING};
use lumio_store::on_each_backend;

on_each_backend!(
    fixture = crate::common::TestDb::on;
    audit_is_filtered_and_paged,
    ten_thousand_records_in_one_batch
);

fn at(second: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 1, 12, 0, second).unwrap() + chrono::Duration::nanoseconds(1_001)
}

fn read(ext: i64, second: u32, name: &str, found: bool) -> AuditRecord {
    AuditRecord {
        at: at(second),
        extension_id: ext,
        environment: Some(STAGING),
        event: lumio_core::AuditEvent::SecretGet,
        secret_name: Some(name.into()),
        actor: None,
        action: Some("callExternalApi".into()),
        request_id: Some(format!("req-{second}")),
        outcome: Some(if found { "found" } else { "not_set" }.into()),
        detail: None,
    }
}

fn query(ext: i64) -> AuditQuery {
    AuditQuery {
        extension_id: ext,
        limit: 100,
        ..AuditQuery::default()
    }
}

async fn audit_is_filtered_and_paged(db: &TestDb) {
    let store = db.store().await;
    let (ext, other) = (extension(&*store).await, extension(&*store).await);
    let set = AuditRecord {
        at: at(0),
        extension_id: ext,
        environment: Some(PRODUCTION),
        event: lumio_core::AuditEvent::SecretSet,
        secret_name: Some("API_KEY".into()),
        actor: Some("tok_dev".into()),
        action: None,
        request_id: Some("req-0".into()),
        outcome: Some("ok".into()),
        detail: Some("version 1".into()),
    };
    let token = AuditRecord {
        environment: None,
        event: lumio_core::AuditEvent::TokenCreate,
        secret_name: None,
        detail: None,
        ..set.clone()
    };
    let batch = vec![
        set.clone(),
        read(ext, 1, "API_KEY", true),
        read(ext, 2, "OTHER", false),
        read(other, 3, "API_KEY", true),
        token.clone(),
        read(ext, 4, "API_KEY", true),
    ];
    store.append_audit(&batch).await.unwrap();
    store.append_audit(&[]).await.unwrap();

    let all = store.query_audit(&query(ext)).await.unwrap();
    assert_eq!(all.len(), 5);
    assert!(all.windows(2).all(|w| w[0].id > w[1].id), "newest first");
    // Every field round-trips; times keep microseconds.
    let mut expected = set.clone();
    expected.at = set.at.trunc_subsecs(6);
    assert_eq!(all[4].record, expected);
    assert_eq!(all[1].record.environment, None);
    assert_eq!(all[1].record.event.as_str(), "token.create");

    let by_name = AuditQuery {
        secret_name: Some("API_KEY".into()),
        ..query(ext)
    };
    let seconds = |entries: Vec<lumio_store::AuditEntry>| -> Vec<u32> {
        entries
            .iter()
            .map(|e| (e.record.at - at(0).trunc_subsecs(6)).num_seconds() as u32)
            .collect()
    };
    assert_eq!(
        seconds(store.query_audit(&by_name).await.unwrap()),
        [4, 1, 0]
    );
    let reads_in_staging = AuditQuery {
        environment: Some(STAGING),
        event: Some("secret.get".into()),
        ..by_name.clone()
    };
    assert_eq!(
        seconds(store.query_audit(&reads_in_staging).await.unwrap()),
        [4, 1]
    );
    let in_production = AuditQuery {
        environment: Some(PRODUCTION),
        ..query(ext)
    };
    // An environment's records plus the extension-wide ones (no environment).
    let events: Vec<_> = store
        .query_audit(&in_production)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.record.event.as_str())
        .collect();
    assert_eq!(events, ["token.create", "secret.set"]);

    // Paging: two at a time, continuing below the last id seen.
    let mut pages = Vec::new();
    let mut before_id = None;
    loop {
        let page = store
            .query_audit(&AuditQuery {
                before_id,
                limit: 2,
                ..query(ext)
            })
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        before_id = Some(last.id);
        pages.push(page.len());
    }
    assert_eq!(pages, [2, 2, 1]);
    assert_eq!(store.query_audit(&query(other)).await.unwrap().len(), 1);
}

async fn ten_thousand_records_in_one_batch(db: &TestDb) {
    let store = db.store().await;
    let ext = extension(&*store).await;
    let batch: Vec<_> = (0..10_000u32)
        .map(|i| AuditRecord {
            request_id: Some(format!("req-{i}")),
            ..read(ext, i % 60, "BULK", i % 2 == 0)
        })
        .collect();
    store.append_audit(&batch).await.unwrap();
    let newest = store
        .query_audit(&AuditQuery {
            limit: 10_001,
            ..query(ext)
        })
        .await
        .unwrap();
    assert_eq!(newest.len(), 10_000);
    assert_eq!(newest[0].record.request_id.as_deref(), Some("req-9999"));
    assert_eq!(newest[9_999].record.request_id.as_deref(), Some("req-0"));
}

/// The writer keeps its connection between batches; one the server closed is replaced
/// by a checked one from the pool and the batch goes in at once (its waiters are not told
/// of a failure), for small batches (one `INSERT`) and bigger ones (COPY) alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_audit_batches_after_the_connection_was_closed() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let store = db.store().await;
    let ext = extension(&*store).await;
    let batch = |from: u32, len: u32| -> Vec<AuditRecord> {
        (from..from + len)
            .map(|i| AuditRecord {
                request_id: Some(format!("req-{i}")),
                ..read(ext, i % 60, "KEPT", true)
            })
            .collect()
    };
    store.append_audit(&batch(0, 3)).await.unwrap();
    store.append_audit(&batch(3, 100)).await.unwrap();
    let mut next = 103;
    for len in [2, 150] {
        let closed = db.close_connections("lumio").await;
        assert!(closed >= 1, "the store's connections were closed");
        store
            .append_audit(&batch(next, len))
            .await
            .expect("a batch after the kept connection was closed");
        next += len;
    }
    let stored = store
        .query_audit(&AuditQuery {
            limit: 1_000,
            ..query(ext)
        })
        .await
        .unwrap();
    let mut ids: Vec<_> = stored
        .iter()
        .map(|e| e.record.request_id.clone().unwrap())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(stored.len(), next as usize, "each record once");
    assert_eq!(ids.len(), next as usize);
    assert!(stored
        .iter()
        .all(|e| e.record.secret_name.as_deref() == Some("KEPT")
            && e.record.actor.is_none()
            && e.record.outcome.as_deref() == Some("found")));
}
