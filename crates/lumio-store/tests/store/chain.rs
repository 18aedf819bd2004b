//! Issue 11, item 4: the tamper-evident audit log. Records are sealed into their
//! extension's hash chain (the writer's batches at insert, management records by the
//! sealer), and verify names the first record changed, removed or inserted.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use lumio_core::{chain_hash, ChainFields, GENESIS_HASH};
use lumio_store::{AuditRecord, ChainVerdict, ExportQuery, Store, Tamper};
use sqlx::Connection;

use crate::common::{extension, write, TestDb, STAGING};
use crate::on_both_backends;

on_both_backends!(
    batches_are_sealed_and_verify,
    an_updated_record_is_changed,
    a_deleted_record_is_removed,
    a_forged_record_is_inserted,
    a_deleted_tail_is_truncated,
    management_records_are_sealed_by_the_sealer,
    retention_moves_the_anchor,
    concurrent_writers_keep_one_chain,
    export_hashes_follow_the_documented_encoding,
);

fn record(ext: i64, at: DateTime<Utc>, label: &str) -> AuditRecord {
    AuditRecord {
        at,
        extension_id: ext,
        environment: Some(STAGING),
        event: "secret.get".into(),
        secret_name: Some("API_KEY".into()),
        actor: None,
        action: Some("functions:call".into()),
        request_id: Some(label.into()),
        outcome: Some("found".into()),
        detail: None,
    }
}

async fn append(store: &dyn Store, ext: i64, n: usize) {
    let batch: Vec<_> = (0..n)
        .map(|i| record(ext, Utc::now(), &format!("r{i}")))
        .collect();
    store.append_audit(&batch).await.expect("append");
    // As the audit writer's sealer does shortly after (PostgreSQL writes batches unsealed,
    // off the path a waiting caller is on; SQLite seals them at insert).
    store.seal_audit(None).await.expect("seal");
}

/// Runs SQL straight on the database, as someone with write access to it would.
async fn tamper(db: &TestDb, sql: &str) {
    if db.is_postgres() {
        let mut conn = sqlx::PgConnection::connect(&db.url).await.expect("pg");
        sqlx::raw_sql(sql).execute(&mut conn).await.expect("tamper");
    } else {
        let mut conn = sqlx::SqliteConnection::connect(&db.url)
            .await
            .expect("sqlite");
        sqlx::raw_sql(sql).execute(&mut conn).await.expect("tamper");
    }
}

fn broken(verdict: ChainVerdict) -> lumio_store::ChainBreak {
    match verdict {
        ChainVerdict::Broken(b) => b,
        ChainVerdict::Intact { .. } => panic!("verify passed a tampered chain"),
    }
}

fn intact(verdict: ChainVerdict) -> u64 {
    match verdict {
        ChainVerdict::Intact { records, .. } => records,
        ChainVerdict::Broken(b) => panic!("verify failed an untouched chain: {b:?}"),
    }
}

async fn batches_are_sealed_and_verify(db: &TestDb) {
    let store = db.store().await;
    let ext = extension(&*store).await;
    let other = extension(&*store).await;
    assert_eq!(intact(store.verify_audit(ext).await.unwrap()), 0);
    append(&*store, ext, 10).await;
    append(&*store, other, 3).await;
    append(&*store, ext, 5).await;
    assert_eq!(intact(store.verify_audit(ext).await.unwrap()), 15);
    assert_eq!(intact(store.verify_audit(other).await.unwrap()), 3);
}

async fn an_updated_record_is_changed(db: &TestDb) {
    let store = db.store().await;
    let ext = extension(&*store).await;
    append(&*store, ext, 10).await;
    tamper(
        db,
        &format!(
            "UPDATE ext_audit_log SET outcome = 'not_set' WHERE extension_id = {ext} AND seq = 4"
        ),
    )
    .await;
    let b = broken(store.verify_audit(ext).await.unwrap());
    assert_eq!((b.seq, b.kind), (4, Tamper::Changed));
    assert!(b.id.is_some());
    // The last record too: its hash is still the head.
    let ext = extension(&*store).await;
    append(&*store, ext, 3).await;
    tamper(
        db,
        &format!("UPDATE ext_audit_log SET detail = 'x' WHERE extension_id = {ext} AND seq = 3"),
    )
    .await;
    let b = broken(store.verify_audit(ext).await.unwrap());
    assert_eq!((b.seq, b.kind), (3, Tamper::Changed));
}

async fn a_deleted_record_is_removed(db: &TestDb) {
    let store = db.store().await;
    let ext = extension(&*store).await;
    append(&*store, ext, 10).await;
    tamper(
        db,
        &format!("DELETE FROM ext_audit_log WHERE extension_id = {ext} AND seq = 6"),
    )
    .await;
    let b = broken(store.verify_audit(ext).await.unwrap());
    assert_eq!((b.id, b.seq, b.kind), (None, 6, Tamper::Removed));
}

async fn a_deleted_tail_is_truncated(db: &TestDb) {
    let store = db.store().await;
    let ext = extension(&*store).await;
    append(&*store, ext, 10).await;
    tamper(
        db,
        &format!("DELETE FROM ext_audit_log WHERE extension_id = {ext} AND seq >= 9"),
    )
    .await;
    let b = broken(store.verify_audit(ext).await.unwrap());
    assert_eq!((b.seq, b.kind), (9, Tamper::Truncated));
}

async fn a_forged_record_is_inserted(db: &TestDb) {
    let store = db.store().await;
    let ext = extension(&*store).await;
    append(&*store, ext, 5).await;
    let (at, hash) = if db.is_postgres() {
        (
            "now()".to_owned(),
            format!("'\\x{}'::bytea", "ab".repeat(32)),
        )
    } else {
        (
            Utc::now().timestamp_micros().to_string(),
            format!("x'{}'", "ab".repeat(32)),
        )
    };
    // After the head, with a made-up hash.
    tamper(
        db,
        &format!(
            "INSERT INTO ext_audit_log (at, extension_id, event, seq, hash) \
             VALUES ({at}, {ext}, 'secret.get', 6, {hash})"
        ),
    )
    .await;
    let b = broken(store.verify_audit(ext).await.unwrap());
    assert_eq!((b.seq, b.kind), (6, Tamper::Inserted));
    assert!(b.id.is_some());
    if db.is_postgres() {
        // Beside a genuine record, at a seq already taken (PostgreSQL's partitioned log
        // cannot have a unique index on the seq).
        let ext = extension(&*store).await;
        append(&*store, ext, 5).await;
        tamper(
            db,
            &format!(
                "INSERT INTO ext_audit_log (at, extension_id, event, seq, hash) \
                 VALUES (now(), {ext}, 'secret.set', 3, '\\x{}'::bytea)",
                "cd".repeat(32)
            ),
        )
        .await;
        let b = broken(store.verify_audit(ext).await.unwrap());
        assert_eq!((b.seq, b.kind), (3, Tamper::Inserted));
    }
}

async fn management_records_are_sealed_by_the_sealer(db: &TestDb) {
    let store = db.store().await;
    let ext = extension(&*store).await;
    let change = AuditRecord {
        event: "secret.set".into(),
        actor: Some("tok_test".into()),
        action: None,
        ..record(ext, Utc::now(), "set")
    };
    store
        .write_versions(ext, STAGING, &[write("API_KEY", 0)], 1000, &[change])
        .await
        .expect("write");
    let unsealed = export(&*store, ext).await;
    assert_eq!(unsealed.len(), 1);
    assert_eq!((unsealed[0].seq, unsealed[0].hash), (None, None));
    assert_eq!(store.seal_audit(None).await.unwrap(), 1);
    assert_eq!(store.seal_audit(None).await.unwrap(), 0);
    // A batch seals its extension's pending records first.
    let change = AuditRecord {
        event: "secret.delete".into(),
        ..record(ext, Utc::now(), "delete")
    };
    store
        .write_versions(ext, STAGING, &[write("OTHER", 0)], 1000, &[change])
        .await
        .expect("write");
    append(&*store, ext, 2).await;
    let sealed = export(&*store, ext).await;
    let seqs: Vec<_> = sealed.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [Some(1), Some(2), Some(3), Some(4)]);
    assert_eq!(intact(store.verify_audit(ext).await.unwrap()), 4);
}

async fn export(store: &dyn Store, ext: i64) -> Vec<lumio_store::ChainedEntry> {
    store
        .export_audit(&ExportQuery {
            extension_id: ext,
            since: None,
            after_id: None,
            limit: 10_000,
        })
        .await
        .expect("export")
}

async fn retention_moves_the_anchor(db: &TestDb) {
    let store = db.store().await;
    let now = Utc::now();
    store
        .prepare_audit_log(now + Duration::days(6))
        .await
        .expect("prepare");
    let ext = extension(&*store).await;
    for day in 0..4 {
        let batch: Vec<_> = (0..5)
            .map(|i| record(ext, now + Duration::days(day), &format!("d{day}-{i}")))
            .collect();
        store.append_audit(&batch).await.expect("append");
    }
    assert_eq!(intact(store.verify_audit(ext).await.unwrap()), 20);
    // Whole days go (PostgreSQL drops their partitions) and part of the third.
    store
        .prune_audit(now + Duration::days(2) + Duration::seconds(1))
        .await
        .expect("prune");
    assert_eq!(intact(store.verify_audit(ext).await.unwrap()), 5);
    let later: Vec<_> = (0..2)
        .map(|i| record(ext, now + Duration::days(3), &format!("later{i}")))
        .collect();
    store.append_audit(&later).await.expect("append");
    assert_eq!(intact(store.verify_audit(ext).await.unwrap()), 7);
}

async fn concurrent_writers_keep_one_chain(db: &TestDb) {
    let first = db.store().await;
    let second = db.store().await;
    let ext = extension(&*first).await;
    let mut tasks = Vec::new();
    for store in [first.clone(), second.clone()] {
        for _ in 0..2 {
            let store: Arc<dyn Store> = store.clone();
            tasks.push(tokio::spawn(async move {
                for round in 0..10 {
                    append(&*store, ext, 7).await;
                    if round % 3 == 0 {
                        let change = AuditRecord {
                            event: "token.create".into(),
                            ..record(ext, Utc::now(), "change")
                        };
                        store
                            .insert_token(&token(), &[change])
                            .await
                            .expect("token");
                        store.seal_audit(None).await.expect("seal");
                    }
                }
            }));
        }
    }
    for task in tasks {
        task.await.expect("writer");
    }
    assert_eq!(
        intact(second.verify_audit(ext).await.unwrap()),
        4 * (70 + 4)
    );
}

fn token() -> lumio_store::TokenRecord {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    lumio_store::TokenRecord {
        id: format!("chain{:011}", NEXT.fetch_add(1, Ordering::Relaxed)),
        secret_hash: [7; 32],
        grant: lumio_store::Grant::Admin,
        environment: None,
        label: "chain".into(),
        created_at: Utc::now(),
        created_by: None,
        expires_at: None,
        last_used_at: None,
    }
}

async fn export_hashes_follow_the_documented_encoding(db: &TestDb) {
    let store = db.store().await;
    let ext = extension(&*store).await;
    append(&*store, ext, 4).await;
    let mut previous = GENESIS_HASH;
    for (i, e) in export(&*store, ext).await.iter().enumerate() {
        let r = &e.entry.record;
        let fields = ChainFields {
            extension_id: r.extension_id,
            at_micros: r.at.timestamp_micros(),
            environment: r.environment.map(|e| e.as_str()),
            event: &r.event,
            secret_name: r.secret_name.as_deref(),
            actor: r.actor.as_deref(),
            action: r.action.as_deref(),
            request_id: r.request_id.as_deref(),
            outcome: r.outcome.as_deref(),
            detail: r.detail.as_deref(),
        };
        assert_eq!(e.seq, Some(i as i64 + 1));
        let hash = chain_hash(&previous, i as u64 + 1, &fields);
        assert_eq!(e.hash, Some(hash));
        previous = hash;
    }
}
