//! What master-key rotation needs of the store: paging through versions under other keys,
//! compare-and-swap of sealed bytes, and compare-and-swap of instance metadata.

use lumio_store::{Resealed, StoredVersion};

use crate::common::{extension, name, write, TestDb, STAGING};
use lumio_store::on_each_backend;

on_each_backend!(
    fixture = crate::common::TestDb::on;
    versions_under_other_keys_are_paged_in_key_order,
    reseals_apply_only_over_the_bytes_they_replace,
    meta_replace_is_compare_and_swap,
);

/// `write` seals every version under key id `00ff`.
const OLD: &str = "00ff";
const NEW: &str = "aa11";

async fn versions_under_other_keys_are_paged_in_key_order(db: &TestDb) {
    let store = db.store().await;
    let ext = extension(&*store).await;
    for (secret, versions) in [("B", 3), ("A", 2)] {
        for latest in 0..versions {
            store
                .write_versions(ext, STAGING, &[write(secret, latest)], 1000, &[])
                .await
                .unwrap();
        }
    }
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .versions_not_under(NEW, after.as_ref(), 2)
            .await
            .unwrap();
        assert!(page.len() <= 2);
        let Some(last) = page.last() else { break };
        after = Some(last.key.clone());
        seen.extend(
            page.into_iter()
                .map(|v| (v.key.name.to_string(), v.key.version)),
        );
    }
    let expected: Vec<(String, i64)> = [("A", 1), ("A", 2), ("B", 1), ("B", 2), ("B", 3)]
        .into_iter()
        .map(|(n, v)| (n.to_owned(), v))
        .collect();
    assert_eq!(seen, expected);
    assert!(store
        .versions_not_under(OLD, None, 10)
        .await
        .unwrap()
        .is_empty());
}

async fn reseals_apply_only_over_the_bytes_they_replace(db: &TestDb) {
    let store = db.store().await;
    let ext = extension(&*store).await;
    store
        .write_versions(ext, STAGING, &[write("K", 0), write("L", 0)], 1000, &[])
        .await
        .unwrap();
    let found = store.versions_not_under(NEW, None, 10).await.unwrap();
    let reseal = |stored: &StoredVersion, previous: &[u8]| Resealed {
        version: StoredVersion {
            key: stored.key.clone(),
            sealed: format!("resealed:{}", stored.key.name).into_bytes(),
        },
        previous: previous.to_vec(),
        kek_id: NEW.to_owned(),
    };
    // K's swap names the bytes it replaces; L's names bytes L no longer holds.
    let batch = [
        reseal(&found[0], &found[0].sealed),
        reseal(&found[1], b"changed meanwhile"),
    ];
    assert_eq!(store.apply_reseals(&batch).await.unwrap(), 1);
    let current = store
        .current(ext, STAGING, &name("K"))
        .await
        .unwrap()
        .unwrap()
        .version;
    assert_eq!(current.sealed, b"resealed:K");
    assert_eq!(current.kek_id, NEW);
    let untouched = store
        .current(ext, STAGING, &name("L"))
        .await
        .unwrap()
        .unwrap()
        .version;
    assert_eq!(untouched.sealed, found[1].sealed);
    let left = store.versions_not_under(NEW, None, 10).await.unwrap();
    assert_eq!(left, vec![found[1].clone()]);
    // Applying the same swap twice changes nothing the second time.
    assert_eq!(store.apply_reseals(&batch[..1]).await.unwrap(), 0);
}

async fn meta_replace_is_compare_and_swap(db: &TestDb) {
    let store = db.store().await;
    assert!(store.meta_put_if_absent("check", b"old").await.unwrap());
    assert!(!store.meta_replace("check", b"other", b"new").await.unwrap());
    assert!(store.meta_replace("check", b"old", b"new").await.unwrap());
    assert_eq!(
        store.meta_get("check").await.unwrap().as_deref(),
        Some(&b"new"[..])
    );
    assert!(!store.meta_replace("missing", b"old", b"new").await.unwrap());
}
