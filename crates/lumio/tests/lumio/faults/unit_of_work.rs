//! Issue 9, item "one unit of work": a management change commits in the same transaction
//! as its audit record. With audit inserts refused, every change is refused (503) and
//! nothing changes; a server killed (SIGKILL) in the middle of a stream of sets leaves
//! every stored version with its record and every acknowledged set stored.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use super::api::Api;
use crate::support::server::{Launch, TestServer};

/// A fresh database URL on the shared PostgreSQL (these faults never stop it), or `None`
/// for the embedded SQLite default.
fn postgres() -> Option<String> {
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(lumio_store::testing::fresh_postgres_url())
}

fn refuse_audit(url: &str, refuse: bool) {
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(lumio_store::testing::refuse_audit_inserts(url, refuse));
}

#[test]
fn sqlite_refused_audit_records_refuse_the_change() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().join("data");
    let server = TestServer::launch(Launch {
        data_dir: Some(&dir),
        ..Launch::default()
    });
    let url = lumio_store::testing::sqlite_url(&dir);
    refused_audit_records_refuse_the_change(&server, &url);
}

#[test]
fn postgres_refused_audit_records_refuse_the_change() {
    let Some(url) = postgres() else { return };
    let server = TestServer::launch(Launch {
        database_url: Some(url.clone()),
        ..Launch::default()
    });
    refused_audit_records_refuse_the_change(&server, &url);
}

fn refused_audit_records_refuse_the_change(server: &TestServer, db: &str) {
    let api = Api::new(server);
    api.create_extension("unit");
    assert_eq!(api.set("unit", "KEPT", "kept-value-1").0, 200);
    refuse_audit(db, true);

    let attempts = [
        (
            "set of a live secret",
            api.set("unit", "KEPT", "kept-value-2"),
        ),
        ("set of a new secret", api.set("unit", "NEW", "new-value")),
        ("delete", api.delete("unit", "KEPT")),
        (
            "deploy",
            api.try_deploy("unit", super::api::compare_action("KEPT", "x").as_str()),
        ),
        ("extension create", api.try_create_extension("unrecorded")),
    ];
    for (what, (status, body)) in &attempts {
        assert_eq!(*status, 503, "{what} with audit inserts refused: {body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("audit log") && message.contains("nothing was changed"),
            "{what}: the answer must say the audit log refused and nothing changed: {body}"
        );
    }

    // Nothing changed: still only KEPT at version 1, no deployment, no extension.
    let (_, list) = api.get("unit", "secrets");
    let secrets: Vec<(String, i64)> = list["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_owned(),
                s["version"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(secrets, [("KEPT".to_owned(), 1)], "{list}");
    let (_, deployments) = api.get("unit", "deployments");
    assert_eq!(
        deployments["deployments"].as_array().map(Vec::len),
        Some(0),
        "{deployments}"
    );
    let (status, _) = api.get("unrecorded", "secrets");
    assert_eq!(status, 404, "the extension whose record was refused exists");

    // The same server heals as soon as the audit table takes rows again.
    refuse_audit(db, false);
    let (status, body) = api.set("unit", "KEPT", "kept-value-2");
    assert_eq!((status, body["version"].as_i64()), (200, Some(2)), "{body}");
    let details: Vec<String> = api
        .audit("unit", "secret.set")
        .iter()
        .map(|e| e["detail"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(details, ["version 1", "version 2"]);
}

#[test]
fn sqlite_a_killed_server_leaves_every_version_with_its_record() {
    a_killed_server_leaves_every_version_with_its_record(None);
}

#[test]
fn postgres_a_killed_server_leaves_every_version_with_its_record() {
    let Some(url) = postgres() else { return };
    a_killed_server_leaves_every_version_with_its_record(Some(url));
}

/// Writers that set new names (each a first version: the transactional path) and
/// writers that keep setting one name (the single-statement path).
const WRITERS: usize = 6;
/// New names per writer at most, so the environment stays under its 1,000-secret limit.
const NEW_NAMES: usize = 150;

fn a_killed_server_leaves_every_version_with_its_record(database_url: Option<String>) {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().join("data");
    let token = "lumio_admin_unit_of_work_kill_test";
    let launch = || {
        TestServer::launch(Launch {
            database_url: database_url.clone(),
            data_dir: Some(&dir),
            admin_token: Some(token),
            ..Launch::default()
        })
    };
    let mut server = launch();
    Api::new(&server).create_extension("killed");

    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let url = server.url.clone();
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || write_until_gone(&url, token, writer, &stop))
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    server.kill();
    stop.store(true, Ordering::Relaxed);
    let acknowledged: Vec<(String, i64)> = writers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    assert!(
        acknowledged.len() > 50,
        "too few sets before the kill to mean anything: {}",
        acknowledged.len()
    );

    let server = launch();
    let api = Api::new(&server);
    let (status, list) = api.get("killed", "secrets");
    assert_eq!(status, 200, "{list}");
    let mut stored: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for secret in list["secrets"].as_array().unwrap() {
        let name = secret["name"].as_str().unwrap().to_owned();
        let (_, history) = api.get("killed", &format!("secrets/{name}/versions"));
        let versions = history["versions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["version"].as_i64().unwrap())
            .collect();
        stored.insert(name, versions);
    }
    let recorded: BTreeSet<(String, String)> = api
        .audit("killed", "secret.set")
        .iter()
        .map(|e| {
            let name = e["secret"].as_str().unwrap().to_owned();
            (name, e["detail"].as_str().unwrap().to_owned())
        })
        .collect();

    for (name, version) in &acknowledged {
        let kept = stored.get(name).map(|v| v[0]);
        assert!(
            kept.is_some_and(|newest| newest >= *version),
            "acknowledged set {name} v{version} is not stored (newest kept: {kept:?})"
        );
    }
    let mut versions = 0;
    for (name, kept) in &stored {
        for version in kept {
            versions += 1;
            assert!(
                recorded.contains(&(name.clone(), format!("version {version}"))),
                "{name} v{version} is stored without its secret.set record"
            );
        }
    }
    for (name, detail) in &recorded {
        let version: i64 = detail.trim_start_matches("version ").parse().unwrap();
        let newest = stored.get(name).map_or(0, |v| v[0]);
        assert!(
            newest >= version,
            "record of {name} {detail} without the change (newest stored: {newest})"
        );
    }
    eprintln!(
        "killed mid-stream: {} sets acknowledged, {versions} stored versions checked, {} records",
        acknowledged.len(),
        recorded.len()
    );
}

/// Sets until the server is gone; returns the (name, version) of every set answered 200.
fn write_until_gone(
    url: &str,
    token: &str,
    writer: usize,
    stop: &AtomicBool,
) -> Vec<(String, i64)> {
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut acknowledged = Vec::new();
    for i in 0.. {
        let name = if writer.is_multiple_of(2) {
            if i >= NEW_NAMES {
                std::thread::sleep(Duration::from_millis(20));
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                continue;
            }
            format!("NEW_{writer}_{i}")
        } else {
            format!("SAME_{writer}")
        };
        let sent = http
            .put(format!(
                "{url}/api/v1/extensions/killed/environments/production/secrets/{name}"
            ))
            .bearer_auth(token)
            .json(&json!({ "value": format!("value-{writer}-{i}") }))
            .send();
        let Ok(response) = sent else { break };
        if response.status() != 200 {
            continue;
        }
        let body: Value = response.json().unwrap_or(Value::Null);
        if let Some(version) = body["version"].as_i64() {
            acknowledged.push((name, version));
        }
        if stop.load(Ordering::Relaxed) {
            break;
        }
    }
    acknowledged
}
