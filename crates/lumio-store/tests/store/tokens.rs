//! Token lifecycle in the store: scope and expiry columns, listing, revocation (never of
//! the last admin), last use, and revocation seen at once by another store on the database.

use chrono::{SubsecRound, Utc};
use lumio_core::{Environment, Role};
use lumio_store::{Grant, Revocation, Store, TokenRecord};

use crate::common::{extension, TestDb};
use lumio_store::on_each_backend;

on_each_backend!(
    fixture = crate::common::TestDb::on;
    tokens_are_listed_per_extension_and_revoked_once,
    the_last_admin_token_cannot_be_revoked,
    last_use_only_moves_forward,
    a_revocation_reaches_every_store_on_the_database,
);

fn token(id: &str, grant: Grant) -> TokenRecord {
    TokenRecord {
        id: id.into(),
        secret_hash: [1; 32],
        grant,
        environment: None,
        label: id.into(),
        created_at: micros_now(),
        created_by: None,
        expires_at: None,
        last_used_at: None,
    }
}

fn micros_now() -> chrono::DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

fn role(extension_id: i64, role: Role) -> Grant {
    Grant::Extension { extension_id, role }
}

async fn ids(store: &dyn Store, extension_id: Option<i64>) -> Vec<String> {
    let list = store.list_tokens(extension_id).await.unwrap();
    let mut ids: Vec<String> = list.into_iter().map(|t| t.id).collect();
    ids.sort();
    ids
}

async fn tokens_are_listed_per_extension_and_revoked_once(db: &TestDb) {
    let store = db.store().await;
    let a = extension(&*store).await;
    let b = store
        .create_extension(&lumio_core::ExtensionSlug::parse("other").unwrap(), &|_| {
            Vec::new()
        })
        .await
        .unwrap()
        .id;
    store
        .insert_token(&token("admin", Grant::Admin), &[])
        .await
        .unwrap();
    let mut scoped = token("a_dev", role(a, Role::Developer));
    scoped.environment = Some(Environment::Staging);
    store.insert_token(&scoped, &[]).await.unwrap();
    store
        .insert_token(&token("b_owner", role(b, Role::Owner)), &[])
        .await
        .unwrap();

    assert_eq!(ids(&*store, None).await, ["a_dev", "admin", "b_owner"]);
    assert_eq!(ids(&*store, Some(a)).await, ["a_dev"]);
    let listed = &store.list_tokens(Some(a)).await.unwrap()[0];
    assert_eq!(listed.environment, Some(Environment::Staging));
    assert!(
        format!("{listed:?}").contains("secret_hash: \"[REDACTED]\""),
        "{listed:?}"
    );

    let at = micros_now();
    let revoke = store.revoke_token("a_dev", "admin", at, &[]).await.unwrap();
    assert_eq!(revoke, Revocation::Revoked);
    assert!(store.find_token("a_dev").await.unwrap().is_none());
    assert_eq!(ids(&*store, Some(a)).await, Vec::<String>::new());
    let again = store.revoke_token("a_dev", "admin", at, &[]).await.unwrap();
    assert_eq!(again, Revocation::Missing, "a revoked token stays revoked");
    let unknown = store.revoke_token("nope", "admin", at, &[]).await.unwrap();
    assert_eq!(unknown, Revocation::Missing);
    // Revoked rows still count: an instance whose tokens were revoked is not bootstrapped again.
    assert_eq!(store.count_tokens().await.unwrap(), 3);
}

async fn the_last_admin_token_cannot_be_revoked(db: &TestDb) {
    let store = db.store().await;
    let at = micros_now();
    store
        .insert_token(&token("first", Grant::Admin), &[])
        .await
        .unwrap();
    // Admin tokens with a scope or an expiry do not count as a way back in.
    let mut scoped = token("scoped", Grant::Admin);
    scoped.environment = Some(Environment::Production);
    store.insert_token(&scoped, &[]).await.unwrap();
    let mut expiring = token("expiring", Grant::Admin);
    expiring.expires_at = Some(at + chrono::Duration::hours(1));
    store.insert_token(&expiring, &[]).await.unwrap();

    let refused = store.revoke_token("first", "first", at, &[]).await.unwrap();
    assert_eq!(refused, Revocation::LastAdmin);
    assert!(store.find_token("first").await.unwrap().is_some());
    // The others can go, they are not the last way in.
    let scoped_gone = store
        .revoke_token("scoped", "first", at, &[])
        .await
        .unwrap();
    assert_eq!(scoped_gone, Revocation::Revoked);

    store
        .insert_token(&token("second", Grant::Admin), &[])
        .await
        .unwrap();
    // Two admins revoking each other at once: exactly one succeeds.
    let (one, two) = tokio::join!(
        store.revoke_token("first", "second", at, &[]),
        store.revoke_token("second", "first", at, &[]),
    );
    let mut outcomes = [one.unwrap(), two.unwrap()];
    outcomes.sort_by_key(|o| *o == Revocation::Revoked);
    assert_eq!(outcomes, [Revocation::LastAdmin, Revocation::Revoked]);
    let live_admins = store.list_tokens(None).await.unwrap();
    let unscoped: Vec<_> = live_admins
        .iter()
        .filter(|t| t.environment.is_none() && t.expires_at.is_none())
        .collect();
    assert_eq!(unscoped.len(), 1, "{live_admins:?}");
}

async fn last_use_only_moves_forward(db: &TestDb) {
    let store = db.store().await;
    store
        .insert_token(&token("t", Grant::Admin), &[])
        .await
        .unwrap();
    let later = micros_now();
    let earlier = later - chrono::Duration::minutes(5);
    store.touch_token("t", later).await.unwrap();
    store.touch_token("t", earlier).await.unwrap();
    let found = store.find_token("t").await.unwrap().unwrap();
    assert_eq!(found.last_used_at, Some(later));
}

async fn a_revocation_reaches_every_store_on_the_database(db: &TestDb) {
    let a = db.store().await;
    let b = db.store().await;
    a.insert_token(&token("admin", Grant::Admin), &[])
        .await
        .unwrap();
    a.insert_token(&token("victim", Grant::Admin), &[])
        .await
        .unwrap();
    assert!(b.find_token("victim").await.unwrap().is_some());
    let revoked = a.revoke_token("victim", "admin", micros_now(), &[]).await;
    assert_eq!(revoked.unwrap(), Revocation::Revoked);
    // Nothing is cached in a store: the other one sees it at once.
    assert!(b.find_token("victim").await.unwrap().is_none());
    let listed = b.list_tokens(None).await.unwrap();
    assert!(listed.iter().all(|t| t.id != "victim"), "{listed:?}");
}
