//! The change feed: local on both backends, across processes on PostgreSQL.

use std::sync::Arc;
use std::time::Duration;

use lumio_store::Change;
use tokio::sync::broadcast::Receiver;

use crate::common::{extension, name, write, TestDb, STAGING};
use lumio_store::on_each_backend;

on_each_backend!(fixture = crate::common::TestDb::on; local_changes_are_announced);

/// The next secret change, skipping `Everything` (a peer connecting sends one).
async fn next_secret(feed: &mut Receiver<Change>) -> Change {
    let wait = async {
        loop {
            match feed.recv().await.expect("feed open") {
                Change::Everything => continue,
                change => return change,
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), wait)
        .await
        .expect("a change within 10 s")
}

fn secret(extension_id: i64, name: &str) -> Change {
    Change::Secret {
        extension_id,
        environment: STAGING,
        name: name.into(),
    }
}

async fn local_changes_are_announced(db: &TestDb) {
    let store = db.store().await;
    let ext = extension(&*store).await;
    let mut feed = store.subscribe();
    store
        .write_versions(ext, STAGING, &[write("A", 0), write("B", 0)], 1000, &[])
        .await
        .unwrap();
    assert_eq!(next_secret(&mut feed).await, secret(ext, "A"));
    assert_eq!(next_secret(&mut feed).await, secret(ext, "B"));
    store
        .delete_secret(ext, STAGING, &name("A"), "tok", false, &[])
        .await
        .unwrap();
    assert_eq!(next_secret(&mut feed).await, secret(ext, "A"));
    store
        .delete_secret(ext, STAGING, &name("B"), "tok", true, &[])
        .await
        .unwrap();
    assert_eq!(next_secret(&mut feed).await, secret(ext, "B"));
    // Nothing deleted, nothing announced; a failed write announces nothing either.
    store
        .delete_secret(ext, STAGING, &name("A"), "tok", false, &[])
        .await
        .unwrap();
    store
        .write_versions(ext, STAGING, &[write("C", 5)], 1000, &[])
        .await
        .unwrap_err();
    store
        .write_versions(ext, STAGING, &[write("D", 0)], 1000, &[])
        .await
        .unwrap();
    assert_eq!(next_secret(&mut feed).await, secret(ext, "D"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_changes_reach_other_stores() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let (a, b) = (db.store().await, db.store().await);
    let ext = extension(&*a).await;
    let mut on_a = a.subscribe();
    let mut on_b = b.subscribe();
    a.write_versions(ext, STAGING, &[write("SHARED", 0)], 1000, &[])
        .await
        .unwrap();
    assert_eq!(next_secret(&mut on_b).await, secret(ext, "SHARED"));
    b.delete_secret(ext, STAGING, &name("SHARED"), "tok", true, &[])
        .await
        .unwrap();
    assert_eq!(
        next_secret(&mut on_a).await,
        secret(ext, "SHARED"),
        "A's own write"
    );
    assert_eq!(
        next_secret(&mut on_a).await,
        secret(ext, "SHARED"),
        "B's purge"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_lost_listener_sends_everything() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let (_store, mut feed) = with_listener_cut(&db).await;
    // Once as the connection is lost (caches can no longer be vouched for), and again
    // once it is back (what was sent meanwhile is lost).
    let everything_twice = async {
        for _ in 0..2 {
            while feed.recv().await.expect("feed open") != Change::Everything {}
        }
    };
    tokio::time::timeout(Duration::from_secs(15), everything_twice)
        .await
        .expect("Everything as the listener is lost and again once it reconnects");
    // And changes from elsewhere flow again afterwards.
    let other = db.store().await;
    let ext = extension(&*other).await;
    other
        .write_versions(ext, STAGING, &[write("AFTER", 0)], 1000, &[])
        .await
        .unwrap();
    assert_eq!(next_secret(&mut feed).await, secret(ext, "AFTER"));
}

/// Barriers are shared by callers while queued; each must still be sent after its caller
/// asked, so a write committed through another store before the call is always heard
/// before the barrier comes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_barriers_order_after_earlier_commits() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let (a, b) = (db.store().await, db.store().await);
    let ext = extension(&*a).await;
    let mut on_b = b.subscribe();
    for round in 0..50i64 {
        // Keep B's sender busy with barriers so the one after the write is often shared.
        let earlier: Vec<u64> = (0..8).filter_map(|_| b.sync_marker()).collect();
        a.write_versions(ext, STAGING, &[write("ORDERED", round)], 1000, &[])
            .await
            .unwrap();
        let marker = b.sync_marker().expect("PostgreSQL has barriers");
        assert!(earlier.iter().all(|&seq| seq <= marker));
        let mut heard_write = false;
        let wait = async {
            loop {
                match on_b.recv().await.expect("feed open") {
                    Change::Synced(seq) if seq >= marker => return,
                    Change::Secret { name, .. } if name == "ORDERED" => heard_write = true,
                    _ => {}
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(10), wait)
            .await
            .expect("the barrier comes back");
        assert!(
            heard_write,
            "round {round}: the write before the barrier was heard first"
        );
    }
}

/// A barrier asked for as the listener's connection is cut is not left waiting: its query
/// fails with the connection and the feed releases it, or the feed already knows it is
/// down and asks for none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_barriers_are_released_when_the_listener_is_lost() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let (store, mut feed) = with_listener_cut(&db).await;
    for _ in 0..20 {
        if let Some(marker) = store.sync_marker() {
            passed(&mut feed, marker, "passed or released").await;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Once the listener is back, barriers are asked for and passed again.
    let back = async {
        loop {
            if let Some(marker) = store.sync_marker() {
                return marker;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let marker = tokio::time::timeout(Duration::from_secs(15), back)
        .await
        .expect("the feed is live again within 15 s");
    passed(&mut feed, marker, "passed after the reconnection").await;
}

/// A store and its feed, whose listener's connection was just closed by the server (as
/// a failover would).
async fn with_listener_cut(db: &TestDb) -> (Arc<dyn lumio_store::Store>, Receiver<Change>) {
    let store = db.store().await;
    let feed = store.subscribe();
    let killed = db.close_connections("lumio-listener").await;
    assert!(killed >= 1);
    (store, feed)
}

/// Waits up to 5 s for the feed to say barrier `marker` is behind it.
async fn passed(feed: &mut Receiver<Change>, marker: u64, what: &str) {
    let wait = async {
        loop {
            if let Change::Synced(seq) = feed.recv().await.expect("feed open") {
                if seq >= marker {
                    return;
                }
            }
        }
    };
    if tokio::time::timeout(Duration::from_secs(5), wait)
        .await
        .is_err()
    {
        panic!("barrier {marker} not {what} within 5 s");
    }
}
