//! A change and its audit record are one unit: both commit, or neither does.

use chrono::Utc;
use lumio_core::ExtensionSlug;
use lumio_store::testing::refuse_audit_inserts;
use lumio_store::{AuditQuery, AuditRecord, Grant, Revocation, Store, StoreError, TokenRecord};

use crate::common::{extension, name, write, TestDb, STAGING};
use lumio_store::on_each_backend;

on_each_backend!(
    fixture = crate::common::TestDb::on;
    every_change_commits_with_its_record,
    a_refused_record_stops_every_change
);

fn change(extension_id: i64, event: &str) -> AuditRecord {
    AuditRecord {
        at: Utc::now(),
        extension_id,
        environment: Some(STAGING),
        event: lumio_core::AuditEvent::parse(event).unwrap(),
        secret_name: None,
        actor: Some("tok_test".into()),
        action: None,
        request_id: Some("req-unit".into()),
        outcome: Some("ok".into()),
        detail: None,
    }
}

fn token(id: &str, extension_id: i64) -> TokenRecord {
    TokenRecord {
        id: id.to_owned(),
        secret_hash: [7; 32],
        grant: Grant::Extension {
            extension_id,
            role: lumio_core::Role::Developer,
        },
        environment: None,
        label: "unit".into(),
        created_at: Utc::now(),
        created_by: Some("tok_test".into()),
        expires_at: None,
        last_used_at: None,
    }
}

async fn events(store: &dyn Store, extension_id: i64) -> Vec<String> {
    let query = AuditQuery {
        extension_id,
        limit: 100,
        ..AuditQuery::default()
    };
    let mut events: Vec<String> = store
        .query_audit(&query)
        .await
        .unwrap()
        .into_iter()
        .map(|entry| match entry.record.detail {
            Some(detail) => format!("{} {detail}", entry.record.event),
            None => entry.record.event.as_str().to_owned(),
        })
        .collect();
    events.reverse();
    events
}

async fn refused<T: std::fmt::Debug>(
    change: impl std::future::Future<Output = Result<T, StoreError>>,
    what: &str,
) {
    match change.await {
        Err(StoreError::AuditRefused(reason)) => {
            assert!(
                reason.contains("refuse") || reason.contains("check"),
                "{what}: {reason}"
            );
        }
        other => panic!("{what}: expected AuditRefused, got {other:?}"),
    }
}

async fn every_change_commits_with_its_record(db: &TestDb) {
    let store = db.store().await;
    let slug = ExtensionSlug::parse("recorded").unwrap();
    let created = store
        .create_extension(&slug, &|e| vec![change(e.id, "extension.create")])
        .await
        .unwrap();
    let ext = created.id;
    let one = |event: &str| vec![change(ext, event)];
    // New name (the transactional path), then a live one (the single-statement path),
    // then a batch.
    store
        .write_versions(ext, STAGING, &[write("A", 0)], 1000, &one("secret.set"))
        .await
        .unwrap();
    store
        .write_versions(ext, STAGING, &[write("A", 1)], 1000, &one("secret.set"))
        .await
        .unwrap();
    let batch = [write("A", 2), write("B", 0)];
    let two = [change(ext, "secret.import"), change(ext, "secret.import")];
    store
        .write_versions(ext, STAGING, &batch, 1000, &two)
        .await
        .unwrap();
    store
        .delete_secret(
            ext,
            STAGING,
            &name("A"),
            "tok",
            false,
            &one("secret.delete"),
        )
        .await
        .unwrap();
    store
        .delete_secret(ext, STAGING, &name("B"), "tok", true, &one("secret.delete"))
        .await
        .unwrap();
    // Nothing deleted: no record either.
    let none = store
        .delete_secret(ext, STAGING, &name("B"), "tok", true, &one("secret.delete"))
        .await
        .unwrap();
    assert!(!none);
    store
        .insert_deployment(ext, STAGING, "{}", &[], "tok", &|d| {
            let mut record = change(ext, "deploy");
            record.detail = Some(format!("version {}", d.version));
            vec![record]
        })
        .await
        .unwrap();
    store
        .insert_token(&token("t1", ext), &one("token.create"))
        .await
        .unwrap();
    let revoked = store
        .revoke_token("t1", "tok", Utc::now(), &one("token.revoke"))
        .await
        .unwrap();
    assert_eq!(revoked, Revocation::Revoked);
    let again = store
        .revoke_token("t1", "tok", Utc::now(), &one("token.revoke"))
        .await
        .unwrap();
    assert_eq!(again, Revocation::Missing, "nothing revoked: no record");
    assert_eq!(
        events(&*store, ext).await,
        [
            "extension.create",
            "secret.set",
            "secret.set",
            "secret.import",
            "secret.import",
            "secret.delete",
            "secret.delete",
            "deploy version 1",
            "token.create",
            "token.revoke",
        ]
    );
}

async fn a_refused_record_stops_every_change(db: &TestDb) {
    let store = db.store().await;
    let ext = extension(&*store).await;
    let one = |event: &str| vec![change(ext, event)];
    store
        .write_versions(ext, STAGING, &[write("LIVE", 0)], 1000, &[])
        .await
        .unwrap();
    store.insert_token(&token("kept", ext), &[]).await.unwrap();
    refuse_audit_inserts(&db.url, true).await;

    let batch = [write("LIVE", 1), write("OTHER", 0)];
    let two = [change(ext, "secret.import"), change(ext, "secret.import")];
    let set = one("secret.set");
    let live = [write("LIVE", 1)];
    refused(
        store.write_versions(ext, STAGING, &live, 1000, &set),
        "set of a live secret",
    )
    .await;
    let new = [write("NEW", 0)];
    refused(
        store.write_versions(ext, STAGING, &new, 1000, &set),
        "set of a new name",
    )
    .await;
    refused(
        store.write_versions(ext, STAGING, &batch, 1000, &two),
        "import",
    )
    .await;
    let delete = one("secret.delete");
    for purge in [false, true] {
        let live = name("LIVE");
        refused(
            store.delete_secret(ext, STAGING, &live, "t", purge, &delete),
            "delete",
        )
        .await;
    }
    let deploy = |_: &lumio_store::DeploymentRecord| one("deploy");
    refused(
        store.insert_deployment(ext, STAGING, "{}", &[], "tok", &deploy),
        "deploy",
    )
    .await;
    let new_token = token("new", ext);
    let create = one("token.create");
    refused(store.insert_token(&new_token, &create), "token create").await;
    let revoke = one("token.revoke");
    refused(
        store.revoke_token("kept", "tok", Utc::now(), &revoke),
        "token revoke",
    )
    .await;
    let slug = ExtensionSlug::parse("unrecorded").unwrap();
    let created = |e: &lumio_store::Extension| vec![change(e.id, "extension.create")];
    refused(store.create_extension(&slug, &created), "extension create").await;

    // Nothing changed.
    let head = store
        .head(ext, STAGING, &name("LIVE"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((head.current_version, head.latest_version), (Some(1), 1));
    let current = store.current(ext, STAGING, &name("LIVE")).await.unwrap();
    assert_eq!(
        current.map(|c| c.version.sealed),
        Some(b"sealed:LIVE:1".to_vec())
    );
    for missing in ["NEW", "OTHER"] {
        assert!(store
            .head(ext, STAGING, &name(missing))
            .await
            .unwrap()
            .is_none());
    }
    assert!(store
        .list_deployments(ext, STAGING, 5)
        .await
        .unwrap()
        .is_empty());
    assert!(store.find_token("new").await.unwrap().is_none());
    assert!(store.find_token("kept").await.unwrap().is_some());
    assert!(store.find_extension(&slug).await.unwrap().is_none());
    assert!(events(&*store, ext).await.is_empty());

    // And once the audit table takes rows again, the same store writes at once.
    refuse_audit_inserts(&db.url, false).await;
    store
        .write_versions(ext, STAGING, &[write("LIVE", 1)], 1000, &one("secret.set"))
        .await
        .unwrap();
    assert_eq!(events(&*store, ext).await, ["secret.set"]);
}
