//! Issue 11, item 4 and issue 22, item 5: the tamper-evident audit log. Records are
//! sealed into their extension's keyed chain (the writer's batches at insert, management
//! records by the sealer), and verify names the first record changed, removed or
//! inserted, a moved anchor, a back-dated record and a deleted chain row.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use lumio_core::{chain_hash_v1, chain_link, ChainFields, GENESIS_HASH};
use lumio_store::{AuditRecord, ChainVerdict, ExportQuery, Store, Tamper};
use sqlx::Connection;

use crate::common::{extension, test_root, write, TestDb, STAGING};
use lumio_store::on_each_backend;

on_each_backend!(
    fixture = crate::common::TestDb::on;
    batches_are_sealed_and_verify,
    an_updated_record_is_changed,
    a_deleted_record_is_removed,
    a_forged_record_is_inserted,
    a_deleted_tail_is_truncated,
    management_records_are_sealed_by_the_sealer,
    retention_moves_the_anchor,
    concurrent_writers_keep_one_chain,
    export_hashes_follow_the_documented_encoding,
    a_hand_moved_anchor_is_removed,
    a_forged_pruned_record_is_inserted,
    a_backdated_record_is_inserted,
    a_deleted_chain_row_is_chain_removed,
    v1_chains_are_keyed_once,
    an_anchored_v1_chain_is_keyed_from_its_anchor,
    nothing_is_sealed_without_the_key,
    a_big_batch_is_sealed_as_written_after_what_was_pending,
    a_big_batch_waits_behind_a_backlog,
    concurrent_big_batches_keep_one_chain,
);

/// Bigger than the batch PostgreSQL seals as it writes it (`SEAL_AT_INSERT`).
const BIG_BATCH: usize = 300;

fn record(ext: i64, at: DateTime<Utc>, label: &str) -> AuditRecord {
    AuditRecord {
        at,
        extension_id: ext,
        environment: Some(STAGING),
        event: lumio_core::AuditEvent::SecretGet,
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
    // An event or environment edited to a word Lumio does not know is a change too,
    // found where it stands, not an error for the whole walk.
    for column in ["event", "environment"] {
        let ext = extension(&*store).await;
        append(&*store, ext, 6).await;
        tamper(
            db,
            &format!(
                "UPDATE ext_audit_log SET {column} = 'forged' WHERE extension_id = {ext} AND seq = 2"
            ),
        )
        .await;
        let b = broken(store.verify_audit(ext).await.unwrap());
        assert_eq!((b.seq, b.kind), (2, Tamper::Changed), "{column}");
    }
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
        event: lumio_core::AuditEvent::SecretSet,
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
        event: lumio_core::AuditEvent::SecretDelete,
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
    let start = Utc::now() - Duration::days(4);
    store
        .prepare_audit_log(Utc::now() + Duration::days(1))
        .await
        .expect("prepare");
    let ext = extension(&*store).await;
    for day in 0..4 {
        let batch: Vec<_> = (0..5)
            .map(|i| record(ext, start + Duration::days(day), &format!("d{day}-{i}")))
            .collect();
        store.append_audit(&batch).await.expect("append");
    }
    assert_eq!(intact(store.verify_audit(ext).await.unwrap()), 20);
    // Two whole days go and part of the third.
    let cutoff = start + Duration::days(2) + Duration::seconds(1);
    store.prune_audit(cutoff).await.expect("prune");
    // The five of the last day and retention's own record.
    assert_eq!(intact(store.verify_audit(ext).await.unwrap()), 6);
    let pruned: Vec<_> = export(&*store, ext)
        .await
        .into_iter()
        .filter(|e| e.entry.record.event == lumio_core::AuditEvent::AuditPruned)
        .collect();
    assert_eq!(pruned.len(), 1);
    let (anchor_seq, _) =
        lumio_core::parse_pruned_detail(pruned[0].entry.record.detail.as_deref().unwrap()).unwrap();
    assert_eq!(anchor_seq, 15);
    assert!(pruned[0]
        .entry
        .record
        .detail
        .as_deref()
        .unwrap()
        .contains(r#""removed":15"#));
    let later: Vec<_> = (0..2)
        .map(|i| record(ext, Utc::now(), &format!("later{i}")))
        .collect();
    store.append_audit(&later).await.expect("append");
    assert_eq!(intact(store.verify_audit(ext).await.unwrap()), 8);
    // A second pass with nothing older moves nothing and adds nothing.
    store.prune_audit(cutoff).await.expect("prune");
    assert_eq!(intact(store.verify_audit(ext).await.unwrap()), 8);
}

/// Deleting old records and moving the anchor past them by hand, as retention would:
/// no keyed `audit.pruned` record names that anchor.
async fn a_hand_moved_anchor_is_removed(db: &TestDb) {
    let store = db.store().await;
    let ext = extension(&*store).await;
    append(&*store, ext, 10).await;
    let sixth = export(&*store, ext).await[5].hash.unwrap();
    let hash = if db.is_postgres() {
        format!("'\\x{}'::bytea", hex(&sixth))
    } else {
        format!("x'{}'", hex(&sixth))
    };
    tamper(
        db,
        &format!(
            "DELETE FROM ext_audit_log WHERE extension_id = {ext} AND seq <= 6; \
             UPDATE ext_audit_chain SET anchor_seq = 6, anchor_hash = {hash} \
             WHERE extension_id = {ext}"
        ),
    )
    .await;
    let b = broken(store.verify_audit(ext).await.unwrap());
    assert_eq!((b.id, b.seq, b.kind), (None, 6, Tamper::Removed));
}

/// The anchor moved by hand together with a hand-written `audit.pruned` record naming it
/// (left unsealed for the sealer to seal): Lumio writes those sealed itself, so the
/// sealer chains it as forged and verify names it.
async fn a_forged_pruned_record_is_inserted(db: &TestDb) {
    let store = db.store().await;
    let ext = extension(&*store).await;
    append(&*store, ext, 10).await;
    let sixth = export(&*store, ext).await[5].hash.unwrap();
    let (hash, at) = if db.is_postgres() {
        (format!("'\\x{}'::bytea", hex(&sixth)), "now()".to_owned())
    } else {
        (
            format!("x'{}'", hex(&sixth)),
            Utc::now().timestamp_micros().to_string(),
        )
    };
    let detail = lumio_core::pruned_detail(6, &sixth, 6);
    tamper(
        db,
        &format!(
            "DELETE FROM ext_audit_log WHERE extension_id = {ext} AND seq <= 6; \
             UPDATE ext_audit_chain SET anchor_seq = 6, anchor_hash = {hash} \
             WHERE extension_id = {ext}; \
             INSERT INTO ext_audit_log (at, extension_id, event, actor, outcome, detail) \
             VALUES ({at}, {ext}, 'audit.pruned', 'lumio', 'ok', '{detail}')"
        ),
    )
    .await;
    assert_eq!(store.seal_audit(None).await.unwrap(), 1);
    let b = broken(store.verify_audit(ext).await.unwrap());
    assert_eq!((b.seq, b.kind), (11, Tamper::Inserted));
    assert!(b.id.is_some());
}

/// A record slipped into the table unsealed with an old `at` is sealed at the head by
/// the sealer; verify reports it as inserted.
async fn a_backdated_record_is_inserted(db: &TestDb) {
    let store = db.store().await;
    let ext = extension(&*store).await;
    append(&*store, ext, 3).await;
    let at = if db.is_postgres() {
        "now() - interval '1 hour'".to_owned()
    } else {
        (Utc::now() - Duration::hours(1))
            .timestamp_micros()
            .to_string()
    };
    tamper(
        db,
        &format!(
            "INSERT INTO ext_audit_log (at, extension_id, event, actor, outcome) \
             VALUES ({at}, {ext}, 'secret.set', 'tok_owner', 'ok')"
        ),
    )
    .await;
    assert_eq!(store.seal_audit(None).await.unwrap(), 1);
    let b = broken(store.verify_audit(ext).await.unwrap());
    assert_eq!((b.seq, b.kind), (4, Tamper::Inserted));
    assert!(b.id.is_some());
    // Within the allowance, records sealed a little out of time order are fine.
    let ext = extension(&*store).await;
    append(&*store, ext, 2).await;
    store
        .append_audit(&[record(ext, Utc::now() - Duration::seconds(30), "late")])
        .await
        .unwrap();
    store.seal_audit(None).await.unwrap();
    assert_eq!(intact(store.verify_audit(ext).await.unwrap()), 3);
}

/// The chain row holds the head and the anchor: deleting it is tampering, not an empty
/// chain, and the sealer does not start a new chain over the old records.
async fn a_deleted_chain_row_is_chain_removed(db: &TestDb) {
    let store = db.store().await;
    let ext = extension(&*store).await;
    append(&*store, ext, 4).await;
    tamper(
        db,
        &format!("DELETE FROM ext_audit_chain WHERE extension_id = {ext}"),
    )
    .await;
    let b = broken(store.verify_audit(ext).await.unwrap());
    assert_eq!((b.id, b.kind), (None, Tamper::ChainRemoved));
    store
        .append_audit(&[record(ext, Utc::now(), "after")])
        .await
        .unwrap();
    store.seal_audit(None).await.unwrap();
    let b = broken(store.verify_audit(ext).await.unwrap());
    assert_eq!(b.kind, Tamper::ChainRemoved);
    // A fresh extension with no sealed record simply has an empty chain.
    let fresh = extension(&*store).await;
    assert_eq!(intact(store.verify_audit(fresh).await.unwrap()), 0);
}

/// A chain an older server wrote (unkeyed SHA-256) is checked and linked again under its
/// key once, with an `audit.chain_keyed` record saying what the check found; one that
/// was already broken says so and is keyed as it stands.
async fn v1_chains_are_keyed_once(db: &TestDb) {
    let store = lumio_store::connect(&db.url).await.expect("connect");
    let (good, bad) = (extension(&*store).await, extension(&*store).await);
    for ext in [good, bad] {
        store
            .append_audit(
                &(0..5)
                    .map(|i| record(ext, Utc::now(), &format!("v1-{i}")))
                    .collect::<Vec<_>>(),
            )
            .await
            .unwrap();
        seal_v1(db, &*store, ext).await;
    }
    tamper(
        db,
        &format!(
            "UPDATE ext_audit_log SET outcome = 'not_set' WHERE extension_id = {bad} AND seq = 2"
        ),
    )
    .await;
    let upgraded = store.key_audit_chains(&test_root()).await.unwrap();
    assert_eq!(upgraded.len(), 2, "{upgraded:?}");
    assert!(matches!(upgraded[0], (id, ChainVerdict::Intact { records: 5, .. }) if id == good));
    assert!(
        matches!(upgraded[1], (id, ChainVerdict::Broken(b)) if id == bad && b.kind == Tamper::Changed && b.seq == 2)
    );
    assert!(store
        .key_audit_chains(&test_root())
        .await
        .unwrap()
        .is_empty());
    store.set_audit_root(test_root());
    assert_eq!(intact(store.verify_audit(good).await.unwrap()), 6);
    let keyed = export(&*store, bad).await.pop().unwrap();
    assert_eq!(
        keyed.entry.record.event,
        lumio_core::AuditEvent::AuditChainKeyed
    );
    assert!(keyed
        .entry
        .record
        .detail
        .unwrap()
        .contains(r#""v1":"changed at seq 2""#));
    // Keyed from here on: new records chain on.
    append(&*store, good, 2).await;
    assert_eq!(intact(store.verify_audit(good).await.unwrap()), 8);
}

/// A v1 chain that retention had already pruned (its anchor moved with no record, as
/// before keyed links) is keyed from its anchor, and the `audit.chain_keyed` record
/// states that anchor, so verify accepts it.
async fn an_anchored_v1_chain_is_keyed_from_its_anchor(db: &TestDb) {
    let store = lumio_store::connect(&db.url).await.expect("connect");
    let ext = extension(&*store).await;
    store
        .append_audit(
            &(0..6)
                .map(|i| record(ext, Utc::now(), &format!("v1-{i}")))
                .collect::<Vec<_>>(),
        )
        .await
        .unwrap();
    seal_v1(db, &*store, ext).await;
    let third = export(&*store, ext).await[2].hash.unwrap();
    let blob = if db.is_postgres() {
        format!("'\\x{}'::bytea", hex(&third))
    } else {
        format!("x'{}'", hex(&third))
    };
    tamper(
        db,
        &format!(
            "DELETE FROM ext_audit_log WHERE extension_id = {ext} AND seq <= 3; \
             UPDATE ext_audit_chain SET anchor_seq = 3, anchor_hash = {blob} \
             WHERE extension_id = {ext}"
        ),
    )
    .await;
    let upgraded = store.key_audit_chains(&test_root()).await.unwrap();
    assert!(
        matches!(upgraded[..], [(id, ChainVerdict::Intact { records: 3, .. })] if id == ext),
        "{upgraded:?}"
    );
    store.set_audit_root(test_root());
    assert_eq!(intact(store.verify_audit(ext).await.unwrap()), 4);
}

/// Seals an extension's records the way a server before keyed links did (plain SHA-256,
/// `lumio-audit-v1`), with a chain row that is not keyed.
async fn seal_v1(db: &TestDb, store: &dyn Store, ext: i64) {
    let mut previous = GENESIS_HASH;
    let mut sql = String::new();
    let rows = export(store, ext).await;
    let blob = |h: &[u8; 32]| {
        if db.is_postgres() {
            format!("'\\x{}'::bytea", hex(h))
        } else {
            format!("x'{}'", hex(h))
        }
    };
    for (i, e) in rows.iter().enumerate() {
        let seq = i as u64 + 1;
        previous = chain_hash_v1(&previous, seq, &fields(&e.entry.record));
        sql.push_str(&format!(
            "UPDATE ext_audit_log SET seq = {seq}, hash = {} WHERE id = {};",
            blob(&previous),
            e.entry.id
        ));
    }
    sql.push_str(&format!(
        "INSERT INTO ext_audit_chain (extension_id, head_seq, head_hash, anchor_seq, anchor_hash) \
         VALUES ({ext}, {}, {}, 0, {});",
        rows.len(),
        blob(&previous),
        blob(&GENESIS_HASH)
    ));
    tamper(db, &sql).await;
}

/// Before the service gives the store its key, records wait unsealed and verify refuses
/// (a server always loads the key before it serves).
async fn nothing_is_sealed_without_the_key(db: &TestDb) {
    let store = lumio_store::connect(&db.url).await.expect("connect");
    let ext = extension(&*store).await;
    store
        .append_audit(&[record(ext, Utc::now(), "early")])
        .await
        .unwrap();
    assert_eq!(store.seal_audit(None).await.unwrap(), 0);
    assert!(store.verify_audit(ext).await.is_err());
    store.set_audit_root(test_root());
    assert_eq!(store.seal_audit(None).await.unwrap(), 1);
    assert_eq!(intact(store.verify_audit(ext).await.unwrap()), 1);
}

/// A batch as big as the writer's under load is in its chain once written, with no
/// sealer pass; a management record still pending is sealed before it (time order).
async fn a_big_batch_is_sealed_as_written_after_what_was_pending(db: &TestDb) {
    let store = db.store().await;
    let ext = extension(&*store).await;
    management_change(&*store, ext).await;
    let batch: Vec<_> = (0..BIG_BATCH)
        .map(|i| record(ext, Utc::now(), &format!("big{i}")))
        .collect();
    store.append_audit(&batch).await.expect("append");
    let written = export(&*store, ext).await;
    assert_eq!(written.len(), BIG_BATCH + 1);
    let seqs: Vec<Option<i64>> = written.iter().map(|e| e.seq).collect();
    let expected: Vec<Option<i64>> = (1..=BIG_BATCH as i64 + 1).map(Some).collect();
    assert_eq!(
        seqs, expected,
        "sealed in the order written, the change first"
    );
    assert_eq!(store.seal_audit(None).await.unwrap(), 0);
    assert_eq!(
        intact(store.verify_audit(ext).await.unwrap()),
        BIG_BATCH as u64 + 1
    );
    // The next one goes on from the head the first one left.
    store
        .append_audit(&batch[..BIG_BATCH - 1])
        .await
        .expect("append");
    assert_eq!(store.seal_audit(None).await.unwrap(), 0);
    assert_eq!(
        intact(store.verify_audit(ext).await.unwrap()),
        2 * BIG_BATCH as u64
    );
}

/// With more records pending than one transaction seals (written before the key was
/// loaded, stamped well before now), a big batch is not sealed ahead of the rest: it
/// waits unsealed, and the chain ends up in time order.
async fn a_big_batch_waits_behind_a_backlog(db: &TestDb) {
    let backlog = 10_001;
    let store = lumio_store::connect(&db.url).await.expect("connect");
    let ext = extension(&*store).await;
    let old = Utc::now() - Duration::minutes(10);
    let records: Vec<_> = (0..backlog)
        .map(|i| record(ext, old, &format!("old{i}")))
        .collect();
    store.append_audit(&records).await.expect("append");
    store.set_audit_root(test_root());
    let batch: Vec<_> = (0..BIG_BATCH)
        .map(|i| record(ext, Utc::now(), &format!("new{i}")))
        .collect();
    store.append_audit(&batch).await.expect("append");
    while store.seal_audit(None).await.unwrap() > 0 {}
    assert_eq!(
        intact(store.verify_audit(ext).await.unwrap()),
        (backlog + BIG_BATCH) as u64
    );
}

/// Big batches (sealed as they are written) from two stores sharing the database, two
/// writers each, with management records and sealer passes between them: the chain still
/// holds every record once.
async fn concurrent_big_batches_keep_one_chain(db: &TestDb) {
    let first = db.store().await;
    let second = db.store().await;
    let ext = extension(&*first).await;
    let rounds = 4;
    let mut tasks = Vec::new();
    for store in [first.clone(), second.clone()] {
        for writer in 0..2 {
            let store: Arc<dyn Store> = store.clone();
            tasks.push(tokio::spawn(async move {
                for round in 0..rounds {
                    let batch: Vec<_> = (0..BIG_BATCH)
                        .map(|i| record(ext, Utc::now(), &format!("w{writer}r{round}i{i}")))
                        .collect();
                    store.append_audit(&batch).await.expect("append");
                    if round == 1 {
                        management_change(&*store, ext).await;
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
        intact(first.verify_audit(ext).await.unwrap()),
        4 * (rounds * BIG_BATCH as u64 + 1)
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn fields(r: &AuditRecord) -> ChainFields<'_> {
    ChainFields {
        extension_id: r.extension_id,
        at_micros: r.at.timestamp_micros(),
        environment: r.environment.map(|e| e.as_str()),
        event: r.event.as_str(),
        secret_name: r.secret_name.as_deref(),
        actor: r.actor.as_deref(),
        action: r.action.as_deref(),
        request_id: r.request_id.as_deref(),
        outcome: r.outcome.as_deref(),
        detail: r.detail.as_deref(),
    }
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
                        management_change(&*store, ext).await;
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

/// A management change (a token made) with its audit record, which is written unsealed.
async fn management_change(store: &dyn Store, ext: i64) {
    let change = AuditRecord {
        event: lumio_core::AuditEvent::TokenCreate,
        ..record(ext, Utc::now(), "change")
    };
    store
        .insert_token(&token(), &[change])
        .await
        .expect("token");
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
    let key = test_root().chain_key(ext);
    let mut previous = GENESIS_HASH;
    for (i, e) in export(&*store, ext).await.iter().enumerate() {
        assert_eq!(e.seq, Some(i as i64 + 1));
        let link = chain_link(&key, &previous, i as u64 + 1, &fields(&e.entry.record));
        assert_eq!(e.hash, Some(link));
        previous = link;
    }
}
