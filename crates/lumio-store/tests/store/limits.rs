//! The live-secret limit and concurrent writers: nothing half-written, no lost update.

use std::sync::Arc;

use lumio_store::{Store, StoreError};

use crate::common::{extension, name, write, TestDb, PRODUCTION, STAGING};
use lumio_store::on_each_backend;

on_each_backend!(
    fixture = crate::common::TestDb::on;
    live_limit_rolls_back,
    concurrent_writers_cannot_both_win,
    concurrent_creators_respect_the_limit,
);

async fn live_limit_rolls_back(db: &TestDb) {
    let store = db.store().await;
    let ext = extension(&*store).await;
    store
        .write_versions(ext, STAGING, &[write("A", 0), write("B", 0)], 3, &[])
        .await
        .unwrap();
    let err = store
        .write_versions(ext, STAGING, &[write("C", 0), write("D", 0)], 3, &[])
        .await
        .unwrap_err();
    let StoreError::TooManySecrets { would_hold, limit } = err else {
        panic!("{err:?}");
    };
    assert_eq!((would_hold, limit), (4, 3));
    assert!(store
        .head(ext, STAGING, &name("C"))
        .await
        .unwrap()
        .is_none());
    assert!(store
        .history(ext, STAGING, &name("C"))
        .await
        .unwrap()
        .is_empty());

    store
        .write_versions(ext, STAGING, &[write("C", 0)], 3, &[])
        .await
        .unwrap();
    // At the limit, changing an existing secret still works, a new one does not.
    store
        .write_versions(ext, STAGING, &[write("A", 1)], 3, &[])
        .await
        .unwrap();
    let err = store
        .write_versions(ext, STAGING, &[write("D", 0)], 3, &[])
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::TooManySecrets {
                would_hold: 4,
                limit: 3
            }
        ),
        "{err:?}"
    );
    // Deleted secrets do not count, and reviving one counts again.
    assert!(store
        .delete_secret(ext, STAGING, &name("B"), "tok", false, &[])
        .await
        .unwrap());
    store
        .write_versions(ext, STAGING, &[write("D", 0)], 3, &[])
        .await
        .unwrap();
    let err = store
        .write_versions(ext, STAGING, &[write("B", 1)], 3, &[])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::TooManySecrets { .. }), "{err:?}");
    // The other environment has its own count.
    store
        .write_versions(ext, PRODUCTION, &[write("A", 0)], 3, &[])
        .await
        .unwrap();
    assert_eq!(store.list_live(ext, STAGING).await.unwrap().len(), 3);
}

/// Spawns `n` writers of `make(i)` at once; returns how many succeeded.
async fn race(
    store: &Arc<dyn Store>,
    ext: i64,
    n: usize,
    max_live: usize,
    make: impl Fn(usize) -> lumio_store::NewVersion,
) -> (usize, Vec<StoreError>) {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let (store, write) = (store.clone(), make(i));
            tokio::spawn(async move {
                store
                    .write_versions(ext, STAGING, &[write], max_live, &[])
                    .await
            })
        })
        .collect();
    let (mut ok, mut errors) = (0, Vec::new());
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => ok += 1,
            Err(err) => errors.push(err),
        }
    }
    (ok, errors)
}

async fn concurrent_writers_cannot_both_win(db: &TestDb) {
    let store = db.store().await;
    let ext = extension(&*store).await;
    for expected in [0, 1] {
        let (ok, errors) = race(&store, ext, 8, 1000, |_| write("HOT", expected)).await;
        assert_eq!(ok, 1, "{errors:?}");
        assert!(
            errors
                .iter()
                .all(|e| matches!(e, StoreError::VersionConflict)),
            "{errors:?}"
        );
    }
    assert_eq!(
        store
            .history(ext, STAGING, &name("HOT"))
            .await
            .unwrap()
            .len(),
        2
    );
}

async fn concurrent_creators_respect_the_limit(db: &TestDb) {
    let store = db.store().await;
    let ext = extension(&*store).await;
    let (ok, errors) = race(&store, ext, 12, 5, |i| write(&format!("S{i}"), 0)).await;
    assert_eq!(ok, 5, "{errors:?}");
    assert!(
        errors
            .iter()
            .all(|e| matches!(e, StoreError::TooManySecrets { .. })),
        "{errors:?}"
    );
    assert_eq!(store.list_live(ext, STAGING).await.unwrap().len(), 5);
}
