//! A fresh database per test on either backend, and small builders.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use lumio_core::{Environment, ExtensionSlug, SecretName};
use lumio_store::testing::{fresh_postgres_url, sqlite_url, Backend};
use lumio_store::{NewVersion, Store};
use tempfile::TempDir;

/// One empty database; `store()` may be called more than once to get several stores on it.
pub struct TestDb {
    pub url: String,
    _dir: Option<TempDir>,
}

impl TestDb {
    /// An empty database on `backend`; `None` when PostgreSQL is unavailable (the skip was
    /// announced): the fixture `on_each_backend!` gives each store scenario.
    pub async fn on(backend: Backend) -> Option<Self> {
        match backend {
            Backend::Sqlite => Some(Self::sqlite()),
            Backend::Postgres => Self::postgres().await,
        }
    }

    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        Self {
            url: sqlite_url(dir.path()),
            _dir: Some(dir),
        }
    }

    pub async fn postgres() -> Option<Self> {
        Some(Self {
            url: fresh_postgres_url().await?,
            _dir: None,
        })
    }

    pub fn is_postgres(&self) -> bool {
        self.url.starts_with("postgres")
    }

    /// A store on the test database, with the test audit root key given as the
    /// service gives it at start.
    /// Closes, from the server's side, every connection of this database made under
    /// `application_name` (as a failover or a restart would); returns how many.
    pub async fn close_connections(&self, application_name: &str) -> i64 {
        let mut admin: sqlx::PgConnection = sqlx::Connection::connect(&self.url).await.unwrap();
        sqlx::query_scalar(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE datname = current_database() AND application_name = $1",
        )
        .bind(application_name)
        .fetch_one(&mut admin)
        .await
        .unwrap()
    }

    pub async fn store(&self) -> Arc<dyn Store> {
        let store = lumio_store::connect(&self.url).await.expect("connect");
        store.set_audit_root(test_root());
        store
    }
}

/// The audit root key every test store is given.
pub fn test_root() -> lumio_core::AuditRootKey {
    lumio_core::AuditRootKey::from_bytes([0x5a; 32])
}

pub const STAGING: Environment = Environment::Staging;
pub const PRODUCTION: Environment = Environment::Production;

pub fn name(name: &str) -> SecretName {
    SecretName::parse(name).expect("valid name")
}

/// A new extension with a unique slug.
pub async fn extension(store: &dyn Store) -> i64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let slug = format!("ext-{}", NEXT.fetch_add(1, Ordering::Relaxed));
    let slug = ExtensionSlug::parse(&slug).expect("valid slug");
    store
        .create_extension(&slug, &|_| Vec::new())
        .await
        .expect("create extension")
        .id
}

/// A write of `name` on top of `expected_latest`, sealed bytes naming the version.
pub fn write(secret: &str, expected_latest: i64) -> NewVersion {
    let version = expected_latest + 1;
    NewVersion {
        name: name(secret),
        expected_latest,
        version,
        sealed: format!("sealed:{secret}:{version}").into_bytes(),
        kek_id: "00ff".into(),
        actor: "tok_test".into(),
        allowed_hosts: None,
        set_at: chrono::Utc::now(),
        expires_at: None,
        rotate_every: lumio_core::DueUpdate::Keep,
    }
}
