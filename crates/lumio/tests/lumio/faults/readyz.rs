//! Issue 12, item 2: `/readyz` answers 503 naming the database while PostgreSQL is
//! stopped, and 200 again once it is back, without a restart; `/healthz` (liveness)
//! answers 200 throughout. It also names the audit writer while the writer cannot
//! commit, and is ready again once it can.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::private_pg::PrivatePg;
use crate::support::server::{Launch, TestServer};

fn get(url: &str) -> (u16, Value) {
    let response = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
        .get(url)
        .send()
        .unwrap_or_else(|err| panic!("{url}: {err}"));
    let status = response.status().as_u16();
    (status, response.json().unwrap_or(Value::Null))
}

#[test]
fn readyz_follows_the_database_and_healthz_does_not() {
    let Some(pg) = PrivatePg::start() else {
        return;
    };
    pg.sql("postgres", "CREATE DATABASE lumio");
    let server = TestServer::launch(Launch {
        database_url: Some(pg.url("lumio")),
        env: &[("LUMIO_DB_TIMEOUT", "1")],
        ..Launch::default()
    });
    let ready = format!("{}/readyz", server.url);
    let health = format!("{}/healthz", server.url);
    let (status, body) = get(&ready);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ready");
    assert_eq!(body["database"], "ok");
    assert_eq!(body["audit"], "ok");

    pg.down();
    let started = Instant::now();
    let (status, body) = get(&ready);
    assert_eq!(status, 503, "readyz with the database down: {body}");
    assert_eq!(body["status"], "not_ready");
    assert_ne!(body["database"], "ok", "{body}");
    // Bounded by the probe's own wait (2 s), whatever --db-timeout says.
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        get(&health).0,
        200,
        "liveness does not depend on the database"
    );

    pg.up();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = get(&ready);
        if status == 200 {
            assert_eq!(body["status"], "ready");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "never ready again: {status} {body}\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// `/readyz` names the audit writer while it cannot commit (audit inserts refused, as a
/// broken audit table would), and is ready again once it commits, without a restart.
#[test]
fn readyz_follows_the_audit_writer() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().join("data");
    let server = TestServer::launch(Launch {
        data_dir: Some(&dir),
        ..Launch::default()
    });
    let db = lumio_store::testing::sqlite_url(&dir);
    let refuse = |refuse: bool| {
        tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(lumio_store::testing::refuse_audit_inserts(&db, refuse))
    };
    let api = super::api::Api::new(&server);
    api.create_extension("ready");
    assert_eq!(api.set("ready", "KEY", "ready-value").0, 200);
    api.deploy("ready", &super::api::compare_action("KEY", "ready-value"));
    let ready = format!("{}/readyz", server.url);
    assert_eq!(get(&ready).0, 200);

    refuse(true);
    // The read's record cannot be committed: the call is stopped (nothing unrecorded).
    let caller = super::api::Api::new(&server);
    let call = std::thread::spawn(move || caller.invoke("ready", "same"));
    let deadline = Instant::now() + Duration::from_secs(30);
    let body = loop {
        let (status, body) = get(&ready);
        if status == 503 {
            break body;
        }
        assert!(Instant::now() < deadline, "never not-ready: {body}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(body["status"], "not_ready");
    assert_eq!(body["database"], "ok", "{body}");
    assert_ne!(body["audit"], "ok", "{body}");

    refuse(false);
    let deadline = Instant::now() + Duration::from_secs(30);
    while get(&ready).0 != 200 {
        assert!(
            Instant::now() < deadline,
            "never ready again:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let (status, answer) = call.join().unwrap();
    assert_eq!(status, 503, "{answer}");
    assert_eq!(answer["error"]["code"], "audit_unavailable", "{answer}");
    // The database's own error text is for the operator (the log), not the action's
    // client nor whoever calls the unauthenticated probe.
    assert!(
        !answer.to_string().contains("refused by the test"),
        "{answer}"
    );
    assert!(!body.to_string().contains("refused by the test"), "{body}");
    assert!(
        server.log().contains("refused by the test"),
        "the log has the cause"
    );
    let (status, answer) = api.invoke("ready", "same");
    assert_eq!(status, 200, "once ready, calls work again: {answer}");
    assert_eq!(answer["value"]["same"], true, "{answer}");
    assert!(!api.audit("ready", "secret.get").is_empty());
}
