//! Secret versions, heads, limits and deletion.

use lumio_store::{StoreError, KEPT_VERSIONS};

use crate::common::{extension, name, write, TestDb, PRODUCTION, STAGING};
use lumio_store::on_each_backend;

on_each_backend!(
    fixture = crate::common::TestDb::on;
    versions_are_written_and_read,
    sealed_bytes_are_stored_verbatim,
    version_conflict_writes_nothing,
    pruning_keeps_exactly_the_newest,
    soft_delete_keeps_versions,
    purge_removes_everything,
    heads_and_live_list_are_ordered,
    scopes_do_not_mix,
);

async fn versions_are_written_and_read(db: &TestDb) {
    let store = db.store().await;
    let ext = extension(&*store).await;
    let key = name("API_KEY");
    assert!(store.head(ext, STAGING, &key).await.unwrap().is_none());
    assert!(store.current(ext, STAGING, &key).await.unwrap().is_none());

    store
        .write_versions(ext, STAGING, &[write("API_KEY", 0)], 1000, &[])
        .await
        .unwrap();
    store
        .write_versions(ext, STAGING, &[write("API_KEY", 1)], 1000, &[])
        .await
        .unwrap();

    let head = store.head(ext, STAGING, &key).await.unwrap().unwrap();
    assert_eq!((head.current_version, head.latest_version), (Some(2), 2));
    assert_eq!(head.updated_by, "tok_test");
    let current = store
        .current(ext, STAGING, &key)
        .await
        .unwrap()
        .unwrap()
        .version;
    assert_eq!(
        (current.version, current.sealed.as_slice()),
        (2, &b"sealed:API_KEY:2"[..])
    );
    assert_eq!(current.kek_id, "00ff");
    let first = store.version(ext, STAGING, &key, 1).await.unwrap().unwrap();
    assert_eq!(first.sealed, b"sealed:API_KEY:1");
    assert!(store
        .version(ext, STAGING, &key, 3)
        .await
        .unwrap()
        .is_none());

    let history = store.history(ext, STAGING, &key).await.unwrap();
    let summary: Vec<_> = history.iter().map(|v| (v.version, v.current)).collect();
    assert_eq!(summary, [(2, true), (1, false)]);
    assert_eq!(history[0].created_at, head.updated_at);
}

async fn sealed_bytes_are_stored_verbatim(db: &TestDb) {
    let store = db.store().await;
    let ext = extension(&*store).await;
    // Every byte value, NULs and invalid UTF-8 included, and a value past 64 KiB.
    let mut sealed: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    sealed.extend_from_slice(&[0, 0, 0xff, 0xfe]);
    let mut new = write("RAW", 0);
    new.sealed = sealed.clone();
    store
        .write_versions(ext, STAGING, &[new], 1000, &[])
        .await
        .unwrap();
    let got = store
        .current(ext, STAGING, &name("RAW"))
        .await
        .unwrap()
        .unwrap()
        .version;
    assert!(got.sealed == sealed, "sealed bytes changed in the store");
    let got = store
        .version(ext, STAGING, &name("RAW"), 1)
        .await
        .unwrap()
        .unwrap();
    assert!(got.sealed == sealed, "sealed bytes changed in the store");
}

async fn version_conflict_writes_nothing(db: &TestDb) {
    let store = db.store().await;
    let ext = extension(&*store).await;
    store
        .write_versions(ext, STAGING, &[write("A", 0)], 1000, &[])
        .await
        .unwrap();

    let stale_batches = [
        // A new name is fine, but A's head moved on: all or nothing.
        vec![write("NEW", 0), write("A", 0)],
        // A head that does not exist cannot be at version 3.
        vec![write("NEW", 3)],
        // A version that does not follow expected_latest.
        vec![{
            let mut w = write("A", 1);
            w.version = 5;
            w
        }],
        // The same name twice in one batch.
        vec![write("A", 1), write("A", 2)],
    ];
    for batch in stale_batches {
        let err = store
            .write_versions(ext, STAGING, &batch, 1000, &[])
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::VersionConflict), "{err:?}");
    }
    assert!(store
        .head(ext, STAGING, &name("NEW"))
        .await
        .unwrap()
        .is_none());
    assert!(store
        .history(ext, STAGING, &name("NEW"))
        .await
        .unwrap()
        .is_empty());
    let head = store.head(ext, STAGING, &name("A")).await.unwrap().unwrap();
    assert_eq!(head.latest_version, 1);
    assert_eq!(
        store.history(ext, STAGING, &name("A")).await.unwrap().len(),
        1
    );
}

async fn pruning_keeps_exactly_the_newest(db: &TestDb) {
    let store = db.store().await;
    let ext = extension(&*store).await;
    let total = KEPT_VERSIONS + 5;
    for latest in 0..total {
        store
            .write_versions(ext, STAGING, &[write("ROTATED", latest)], 1000, &[])
            .await
            .unwrap();
    }
    let history = store.history(ext, STAGING, &name("ROTATED")).await.unwrap();
    let versions: Vec<i64> = history.iter().map(|v| v.version).collect();
    let expected: Vec<i64> = (total - KEPT_VERSIONS + 1..=total).rev().collect();
    assert_eq!(versions, expected);
    let oldest_pruned = total - KEPT_VERSIONS;
    assert!(store
        .version(ext, STAGING, &name("ROTATED"), oldest_pruned)
        .await
        .unwrap()
        .is_none());
    assert!(store
        .version(ext, STAGING, &name("ROTATED"), oldest_pruned + 1)
        .await
        .unwrap()
        .is_some());
}

async fn soft_delete_keeps_versions(db: &TestDb) {
    let store = db.store().await;
    let ext = extension(&*store).await;
    let key = name("GONE");
    assert!(!store
        .delete_secret(ext, STAGING, &key, "tok_x", false, &[])
        .await
        .unwrap());
    store
        .write_versions(ext, STAGING, &[write("GONE", 0)], 1000, &[])
        .await
        .unwrap();
    store
        .write_versions(ext, STAGING, &[write("GONE", 1)], 1000, &[])
        .await
        .unwrap();

    assert!(store
        .delete_secret(ext, STAGING, &key, "tok_x", false, &[])
        .await
        .unwrap());
    assert!(!store
        .delete_secret(ext, STAGING, &key, "tok_x", false, &[])
        .await
        .unwrap());
    assert!(store.current(ext, STAGING, &key).await.unwrap().is_none());
    let head = store.head(ext, STAGING, &key).await.unwrap().unwrap();
    assert_eq!((head.current_version, head.latest_version), (None, 2));
    assert_eq!(head.updated_by, "tok_x");
    assert!(store.list_live(ext, STAGING).await.unwrap().is_empty());
    let old = store.version(ext, STAGING, &key, 1).await.unwrap().unwrap();
    assert_eq!(old.sealed, b"sealed:GONE:1");
    assert!(store
        .history(ext, STAGING, &key)
        .await
        .unwrap()
        .iter()
        .all(|v| !v.current));

    // Writing again continues the sequence.
    store
        .write_versions(ext, STAGING, &[write("GONE", 2)], 1000, &[])
        .await
        .unwrap();
    assert_eq!(
        store
            .current(ext, STAGING, &key)
            .await
            .unwrap()
            .unwrap()
            .version
            .version,
        3
    );
}

async fn purge_removes_everything(db: &TestDb) {
    let store = db.store().await;
    let ext = extension(&*store).await;
    let key = name("PURGED");
    assert!(!store
        .delete_secret(ext, STAGING, &key, "tok", true, &[])
        .await
        .unwrap());
    for latest in 0..3 {
        store
            .write_versions(ext, STAGING, &[write("PURGED", latest)], 1000, &[])
            .await
            .unwrap();
    }
    // Purging works on a soft-deleted secret too.
    assert!(store
        .delete_secret(ext, STAGING, &key, "tok", false, &[])
        .await
        .unwrap());
    assert!(store
        .delete_secret(ext, STAGING, &key, "tok", true, &[])
        .await
        .unwrap());
    assert!(!store
        .delete_secret(ext, STAGING, &key, "tok", true, &[])
        .await
        .unwrap());
    assert!(store.head(ext, STAGING, &key).await.unwrap().is_none());
    assert!(store.history(ext, STAGING, &key).await.unwrap().is_empty());
    for version in 1..=3 {
        assert!(store
            .version(ext, STAGING, &key, version)
            .await
            .unwrap()
            .is_none());
    }
    // The name starts over.
    store
        .write_versions(ext, STAGING, &[write("PURGED", 0)], 1000, &[])
        .await
        .unwrap();
    assert_eq!(store.history(ext, STAGING, &key).await.unwrap().len(), 1);
}

async fn heads_and_live_list_are_ordered(db: &TestDb) {
    let store = db.store().await;
    let ext = extension(&*store).await;
    let writes: Vec<_> = ["b", "A", "_z", "a", "DELETED"]
        .iter()
        .map(|n| write(n, 0))
        .collect();
    store
        .write_versions(ext, STAGING, &writes, 1000, &[])
        .await
        .unwrap();
    store
        .delete_secret(ext, STAGING, &name("DELETED"), "tok", false, &[])
        .await
        .unwrap();

    let live: Vec<_> = store
        .list_live(ext, STAGING)
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.name.to_string())
        .collect();
    assert_eq!(
        live,
        ["A", "_z", "a", "b"],
        "byte order, like SQLite's BINARY collation"
    );

    let asked = [name("a"), name("DELETED"), name("MISSING")];
    let mut heads = store.heads(ext, STAGING, &asked).await.unwrap();
    heads.sort_by(|x, y| x.name.cmp(&y.name));
    let got: Vec<_> = heads
        .iter()
        .map(|h| (h.name.to_string(), h.current_version))
        .collect();
    assert_eq!(
        got,
        [("DELETED".to_string(), None), ("a".to_string(), Some(1))]
    );
    assert!(store.heads(ext, STAGING, &[]).await.unwrap().is_empty());
}

async fn scopes_do_not_mix(db: &TestDb) {
    let store = db.store().await;
    let (a, b) = (extension(&*store).await, extension(&*store).await);
    store
        .write_versions(a, STAGING, &[write("KEY", 0)], 1000, &[])
        .await
        .unwrap();
    assert!(store
        .current(a, PRODUCTION, &name("KEY"))
        .await
        .unwrap()
        .is_none());
    assert!(store
        .current(b, STAGING, &name("KEY"))
        .await
        .unwrap()
        .is_none());
    assert!(store.list_live(b, STAGING).await.unwrap().is_empty());
    assert!(!store
        .delete_secret(b, STAGING, &name("KEY"), "tok", true, &[])
        .await
        .unwrap());
    // The same name elsewhere has its own version sequence.
    store
        .write_versions(b, STAGING, &[write("KEY", 0)], 1000, &[])
        .await
        .unwrap();
    store
        .write_versions(a, PRODUCTION, &[write("KEY", 0)], 1000, &[])
        .await
        .unwrap();
}
