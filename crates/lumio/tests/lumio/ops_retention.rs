//! Issue 12, item 5: `lumio server --audit-retention-days N` removes the audit records
//! older than N days when it starts (and hourly after), keeps the newer ones, and answers
//! writes throughout; on both backends, through the real binary and CLI.

use std::sync::Arc;

use crate::support::server::{Launch, TestServer};
use chrono::{Duration, Utc};
use lumio_core::{Environment, ExtensionSlug};
use lumio_store::{AuditRecord, Store};
use tempfile::TempDir;

const OLD_RECORDS: usize = 5000;

fn record(ext: i64, age: Duration, detail: &str) -> AuditRecord {
    AuditRecord {
        at: Utc::now() - age,
        extension_id: ext,
        environment: Some(Environment::Staging),
        event: lumio_core::AuditEvent::SecretGet,
        secret_name: Some("API_KEY".into()),
        actor: None,
        action: Some("reads".into()),
        request_id: None,
        outcome: Some("found".into()),
        detail: Some(detail.into()),
    }
}

/// Writes the extension's history straight into the store, as months of use would have.
fn seed(url: &str) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store: Arc<dyn Store> = lumio_store::connect(url).await.expect("store");
        let slug = ExtensionSlug::parse("kept-logs").unwrap();
        let ext = store
            .find_extension(&slug)
            .await
            .unwrap()
            .expect("extension")
            .id;
        let mut records: Vec<_> = (0..OLD_RECORDS)
            .map(|i| record(ext, Duration::days(40), &format!("old-{i}")))
            .collect();
        records.push(record(ext, Duration::days(31), "old-31d"));
        records.push(record(ext, Duration::days(29), "new-29d"));
        records.push(record(ext, Duration::days(5), "new-5d"));
        store.append_audit(&records).await.expect("seed");
    });
}

fn retention_keeps_only_the_last_n_days(database_url: Option<String>) {
    let data = TempDir::new().unwrap();
    let url = database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}/lumio.db", data.path().display()));
    let token = "lumio_admin_retention_test_0123456789";
    let first = TestServer::launch(Launch {
        database_url: database_url.clone(),
        data_dir: Some(data.path()),
        admin_token: Some(token),
        ..Launch::default()
    });
    first.admin().ok(&["extensions", "create", "kept-logs"]);
    drop(first);
    seed(&url);

    let server = TestServer::launch(Launch {
        database_url,
        data_dir: Some(data.path()),
        admin_token: Some(token),
        env: &[("LUMIO_AUDIT_RETENTION_DAYS", "30")],
        ..Launch::default()
    });
    let admin = server.admin();
    // Writes while the first retention pass runs: none may fail.
    for i in 0..40 {
        admin.ok(&[
            "env",
            "set",
            "DURING_RETENTION",
            &format!("value-{i}"),
            "--extension",
            "kept-logs",
        ]);
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !server.log().contains("audit retention pass") {
        assert!(
            std::time::Instant::now() < deadline,
            "no retention pass logged:\n{}",
            server.log()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }

    let answer = admin.json(&[
        "audit",
        "--extension",
        "kept-logs",
        "--event",
        "secret.get",
        "--limit",
        "1000",
    ]);
    let mut left: Vec<&str> = answer["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["detail"].as_str())
        .collect();
    left.sort();
    assert_eq!(left, ["new-29d", "new-5d"], "{}", server.log());
    let sets = admin.json(&[
        "audit",
        "--extension",
        "kept-logs",
        "--event",
        "secret.set",
        "--limit",
        "1000",
    ]);
    assert_eq!(sets["entries"].as_array().unwrap().len(), 40);
}

#[test]
fn retention_keeps_only_the_last_n_days_on_sqlite() {
    retention_keeps_only_the_last_n_days(None);
}

#[test]
fn retention_keeps_only_the_last_n_days_on_postgres() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    if let Some(url) = runtime.block_on(lumio_store::testing::fresh_postgres_url()) {
        retention_keeps_only_the_last_n_days(Some(url));
    }
}
