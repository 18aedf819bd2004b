//! Connecting, metadata, extensions and tokens.

use chrono::{SubsecRound, TimeZone, Utc};
use lumio_core::{ExtensionSlug, Role};
use lumio_store::{Grant, StoreError, TokenRecord};

use crate::common::{extension, TestDb};
use lumio_store::on_each_backend;

on_each_backend!(
    fixture = crate::common::TestDb::on;
    migrations_are_idempotent,
    meta_is_written_once,
    extensions_are_unique_and_listed,
    tokens_round_trip,
);

async fn migrations_are_idempotent(db: &TestDb) {
    let first = db.store().await;
    assert!(first.meta_put_if_absent("check", b"one").await.unwrap());
    drop(first);
    let second = db.store().await;
    let third = db.store().await;
    assert_eq!(
        second.meta_get("check").await.unwrap().as_deref(),
        Some(&b"one"[..])
    );
    assert_eq!(
        third.backend(),
        if db.is_postgres() {
            "postgres"
        } else {
            "sqlite"
        }
    );
}

async fn meta_is_written_once(db: &TestDb) {
    let store = db.store().await;
    assert_eq!(store.meta_get("key_check").await.unwrap(), None);
    assert!(store
        .meta_put_if_absent("key_check", &[0, 1, 255])
        .await
        .unwrap());
    assert!(!store
        .meta_put_if_absent("key_check", b"other")
        .await
        .unwrap());
    assert_eq!(
        store.meta_get("key_check").await.unwrap(),
        Some(vec![0, 1, 255])
    );
}

async fn extensions_are_unique_and_listed(db: &TestDb) {
    let store = db.store().await;
    let espn = ExtensionSlug::parse("espn").unwrap();
    let acme = ExtensionSlug::parse("acme").unwrap();
    assert_eq!(store.find_extension(&espn).await.unwrap(), None);
    let created = store
        .create_extension(&espn, &|_| Vec::new())
        .await
        .unwrap();
    store
        .create_extension(&acme, &|_| Vec::new())
        .await
        .unwrap();
    let err = store
        .create_extension(&espn, &|_| Vec::new())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert!(err.to_string().contains("espn"), "{err}");

    let found = store.find_extension(&espn).await.unwrap().unwrap();
    assert_eq!(found, created);
    let slugs: Vec<_> = store
        .list_extensions()
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.slug.to_string())
        .collect();
    assert_eq!(slugs, ["acme", "espn"]);
}

async fn tokens_round_trip(db: &TestDb) {
    let store = db.store().await;
    let ext = extension(&*store).await;
    assert_eq!(store.count_tokens().await.unwrap(), 0);
    // Nanoseconds in, microseconds out: the precision both backends keep.
    let created_at = Utc.with_ymd_and_hms(2025, 3, 4, 5, 6, 7).unwrap()
        + chrono::Duration::nanoseconds(123_456_789);
    let admin = TokenRecord {
        id: "tok_admin".into(),
        secret_hash: [7; 32],
        grant: Grant::Admin,
        environment: None,
        label: "bootstrap".into(),
        created_at,
        created_by: None,
        expires_at: None,
        last_used_at: None,
    };
    let dev = TokenRecord {
        id: "tok_dev".into(),
        secret_hash: [9; 32],
        grant: Grant::Extension {
            extension_id: ext,
            role: Role::Developer,
        },
        environment: Some(lumio_core::Environment::Production),
        label: "ci".into(),
        created_at,
        created_by: Some("tok_admin".into()),
        expires_at: Some(created_at + chrono::Duration::days(7)),
        last_used_at: None,
    };
    store.insert_token(&admin, &[]).await.unwrap();
    store.insert_token(&dev, &[]).await.unwrap();
    let err = store.insert_token(&admin, &[]).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(store.count_tokens().await.unwrap(), 2);

    let found = store.find_token("tok_dev").await.unwrap().unwrap();
    assert_eq!(found.secret_hash, [9; 32]);
    assert_eq!(found.grant, dev.grant);
    assert_eq!(found.label, "ci");
    assert_eq!(found.created_by.as_deref(), Some("tok_admin"));
    assert_eq!(found.created_at, created_at.trunc_subsecs(6));
    assert_eq!(found.environment, Some(lumio_core::Environment::Production));
    assert_eq!(
        found.expires_at,
        Some((created_at + chrono::Duration::days(7)).trunc_subsecs(6))
    );
    let found = store.find_token("tok_admin").await.unwrap().unwrap();
    assert_eq!(found.grant, Grant::Admin);
    assert_eq!(found.created_by, None);
    assert!(store.find_token("tok_nope").await.unwrap().is_none());
}

#[tokio::test]
async fn unsupported_urls_are_refused() {
    for (url, scheme) in [
        ("mysql://root:hunter2@db/lumio", "mysql"),
        ("lumio.db", ""),
        ("sqlite::memory:", "sqlite"),
    ] {
        let err = lumio_store::connect(url).await.err().expect("refused");
        let StoreError::UnsupportedUrl(got) = &err else {
            panic!("{url}: {err:?}");
        };
        assert_eq!(got, scheme);
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
}
