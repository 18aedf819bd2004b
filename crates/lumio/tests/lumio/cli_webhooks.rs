//! Change events (issue 28) with the real binary and a real receiver on loopback:
//! signatures checked with an HMAC written here from SHA-256 alone; no value in any
//! event, listing or log; retries with growing delays; a server killed between commit
//! and delivery loses nothing; two servers deliver each event once; bad receivers
//! refused with nothing stored.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use base64::Engine;
use lumio_store::on_each_backend;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::support::server::{Backend, Launch, Shell, TestServer};
use lumio_test_support::receiver::{Received, Receiver, Reply};

on_each_backend!(
    events_are_signed_in_order_and_carry_no_value,
    a_failing_receiver_is_retried_with_growing_delays,
    a_server_killed_between_commit_and_delivery_loses_no_event,
);

const EXT: &str = "hooks";

/// HMAC-SHA256 (RFC 2104), independent of the server's `hmac` crate.
fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .to_vec()
}

/// Checks `webhook-signature` as a receiver following Standard Webhooks would.
#[track_caller]
fn assert_signed(received: &Received, signing_secret: &str) {
    let b64 = base64::engine::general_purpose::STANDARD;
    let key = b64
        .decode(
            signing_secret
                .strip_prefix("whsec_")
                .expect("whsec_ prefix"),
        )
        .unwrap();
    let signed = format!("{}.{}.{}", received.id, received.timestamp, received.body);
    let expected = format!("v1,{}", b64.encode(hmac_sha256(&key, signed.as_bytes())));
    assert_eq!(received.signature, expected, "bad signature: {received:#?}");
    let sent: i64 = received.timestamp.parse().unwrap();
    let now = chrono::Utc::now().timestamp();
    assert!(
        (now - sent).abs() < 300,
        "timestamp {sent} is not now ({now})"
    );
}

fn with_ext<'a>(args: &[&'a str]) -> Vec<&'a str> {
    [args, &["--extension", EXT]].concat()
}

/// An extension with a receiver for `events`; the signing secret.
fn add_receiver(admin: &Shell, receiver: &Receiver, events: &str) -> (String, String) {
    let added = admin.json(&with_ext(&[
        "webhooks",
        "add",
        &receiver.url,
        "--events",
        events,
    ]));
    let secret = added["signing_secret"].as_str().unwrap().to_owned();
    let id = added["webhook"]["id"].as_str().unwrap().to_owned();
    (id, secret)
}

fn events_of(seen: &[Received], kind: &str) -> Vec<Value> {
    seen.iter()
        .map(Received::json)
        .filter(|e| e["type"] == kind)
        .collect()
}

fn events_are_signed_in_order_and_carry_no_value(db: Backend) {
    let Some(server) = TestServer::start(db) else {
        return;
    };
    let admin = server.admin();
    admin.ok(&["extensions", "create", EXT]);
    let receiver = Receiver::start();
    let (hook, secret) = add_receiver(&admin, &receiver, "secret.*,deploy");
    let planted = "whk-planted-9f3a7c1e55d2";
    for n in 1..=5 {
        admin.ok(&with_ext(&[
            "env",
            "set",
            "API_KEY",
            &format!("{planted}-{n}"),
        ]));
    }
    admin.ok(&with_ext(&[
        "env",
        "set",
        "OTHER",
        planted,
        "--env",
        "production",
    ]));
    // Not in the filter: never sent.
    admin.ok(&with_ext(&["tokens", "create", "--role", "viewer"]));
    admin.ok(&with_ext(&["env", "set", "GONE", planted]));
    admin.ok(&with_ext(&["env", "delete", "GONE"]));

    let seen = receiver.wait_until(Duration::from_secs(20), |seen| seen.len() >= 8);
    assert_eq!(seen.len(), 8, "{seen:#?}");
    for received in &seen {
        assert_signed(received, &secret);
        assert!(
            !received.body.contains(planted),
            "a value in an event: {received:#?}"
        );
        let event = received.json();
        assert_eq!(event["data"]["id"], received.id.as_str());
        assert_eq!(event["data"]["extension"], EXT);
        assert!(event["data"]["actor"]
            .as_str()
            .unwrap()
            .starts_with("staff:"));
        assert!(event["timestamp"].as_str().unwrap().ends_with('Z'));
    }
    let sets = events_of(&seen, "secret.set");
    let versions: Vec<i64> = sets
        .iter()
        .filter(|e| e["data"]["name"] == "API_KEY")
        .map(|e| e["data"]["version"].as_i64().unwrap())
        .collect();
    assert_eq!(versions, [1, 2, 3, 4, 5], "in order, each once");
    assert!(sets
        .iter()
        .any(|e| e["data"]["name"] == "OTHER" && e["data"]["environment"] == "production"));
    assert_eq!(events_of(&seen, "secret.delete").len(), 1);
    assert!(
        events_of(&seen, "token.create").is_empty(),
        "not in the filter"
    );
    let ids: HashSet<&str> = seen.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids.len(), seen.len(), "each event has its own id");

    // A test event, signed the same way.
    let out = admin.ok(&with_ext(&["webhooks", "test", &hook]));
    assert!(out.contains("answered 200"), "{out}");
    let test = receiver.wait_until(Duration::from_secs(5), |s| s.len() >= 9);
    assert_signed(&test[8], &secret);
    assert_eq!(test[8].json()["type"], "webhook.test");

    let deliveries = admin.json(&with_ext(&["webhooks", "deliveries"]));
    let deliveries = deliveries["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), 8);
    assert!(
        deliveries.iter().all(|d| d["state"] == "delivered"),
        "{deliveries:#?}"
    );
    let listing = admin.run(&with_ext(&["webhooks", "list"]), None);
    assert!(listing.ok().contains(&hook));
    listing.never_shows(&secret);
    admin
        .run(&with_ext(&["webhooks", "deliveries"]), None)
        .never_shows(planted);
    let audit = admin.run(&with_ext(&["audit", "--json", "--limit", "200"]), None);
    audit.never_shows(planted);
    audit.never_shows("/hooks/lumio"); // records name the receiver's host only
    let audit: Value = serde_json::from_str(audit.ok()).unwrap();
    let delivered = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "webhook.delivery" && e["outcome"] == "ok")
        .count();
    assert_eq!(delivered, 7, "staging's deliveries: {audit:#}");
    assert!(!server.log().contains(planted));
    assert!(
        !server.log().contains(&secret),
        "the signing secret in the log"
    );

    // A master-key rotation reseals the signing secret: deliveries still sign with it.
    admin.ok(&["admin", "rotate-master-key"]);
    admin.ok(&with_ext(&["env", "set", "API_KEY", "after-rotation"]));
    let rotated = receiver.wait_until(Duration::from_secs(10), |s| s.len() >= 10);
    assert_signed(&rotated[9], &secret);
    assert_eq!(rotated[9].json()["data"]["version"], 6);

    // Removed: nothing more is sent.
    admin.ok(&with_ext(&["webhooks", "remove", &hook]));
    admin.ok(&with_ext(&["env", "set", "API_KEY", "after-removal"]));
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(receiver.seen().len(), 10, "sent after removal");
}

fn a_failing_receiver_is_retried_with_growing_delays(db: Backend) {
    let Some(server) = TestServer::start_with_env(db, &[("LUMIO_WEBHOOK_RETRY_BASE_MS", "400")])
    else {
        return;
    };
    let admin = server.admin();
    admin.ok(&["extensions", "create", EXT]);
    let receiver = Receiver::start();
    let (_, secret) = add_receiver(&admin, &receiver, "secret.*");
    receiver.script(&[Reply::Status(500), Reply::Status(503), Reply::Status(500)]);
    admin.ok(&with_ext(&["env", "set", "API_KEY", "v1"]));
    // While it fails, `deliveries --failed` shows it with its last answer.
    let first_failures = receiver.wait_until(Duration::from_secs(10), |s| !s.is_empty());
    assert!(!first_failures.is_empty());
    std::thread::sleep(Duration::from_millis(200));
    let failed = admin.json(&with_ext(&["webhooks", "deliveries", "--failed"]));
    let failed = failed["deliveries"].as_array().unwrap();
    assert_eq!(failed.len(), 1, "{failed:#?}");
    assert_eq!(failed[0]["state"], "pending");
    assert!(failed[0]["next_attempt_at"].is_string());
    admin.ok(&with_ext(&["env", "set", "API_KEY", "v2"]));

    let seen = receiver.wait_until(Duration::from_secs(30), |s| s.len() >= 5);
    assert_eq!(
        seen.len(),
        5,
        "four attempts for the first event, one for the second: {seen:#?}"
    );
    let first: Vec<&Received> = seen.iter().take(4).collect();
    assert!(
        first.iter().all(|r| r.id == first[0].id),
        "one webhook-id for every attempt"
    );
    for r in &seen {
        assert_signed(r, &secret);
    }
    assert_eq!(
        seen[4].json()["data"]["version"],
        2,
        "the second waits for the first"
    );
    let gaps: Vec<Duration> = first.windows(2).map(|w| w[1].at - w[0].at).collect();
    // Equal jitter: the n-th pause is within [base·2^(n-1)/2, base·2^(n-1)].
    for (n, gap) in gaps.iter().enumerate() {
        let least = Duration::from_millis(200 << n);
        assert!(
            *gap >= least,
            "pause {n} was {gap:?}, less than {least:?}: {gaps:?}"
        );
    }
    assert!(gaps[2] > gaps[0], "the delays did not grow: {gaps:?}");

    let deliveries = admin.json(&with_ext(&["webhooks", "deliveries"]));
    let deliveries = deliveries["deliveries"].as_array().unwrap();
    let first_event = deliveries
        .iter()
        .find(|d| d["attempts"] == 4)
        .expect("4 attempts");
    assert_eq!(first_event["state"], "delivered");
    assert_eq!(first_event["last_status"], 200);
    let audit = admin.json(&with_ext(&["audit", "--limit", "200"]));
    let outcomes: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "webhook.delivery")
        .map(|e| e["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(
        outcomes.iter().filter(|o| **o == "failed").count(),
        3,
        "{outcomes:?}"
    );
    assert_eq!(
        outcomes.iter().filter(|o| **o == "ok").count(),
        2,
        "{outcomes:?}"
    );

    // Redeliver: the same event again, with the same id.
    let id = first_event["id"].as_i64().unwrap().to_string();
    admin.ok(&with_ext(&["webhooks", "redeliver", &id]));
    let again = receiver.wait_until(Duration::from_secs(10), |s| s.len() >= 6);
    assert_eq!(again[5].id, first[0].id);
}

fn a_server_killed_between_commit_and_delivery_loses_no_event(db: Backend) {
    let database_url = match db {
        Backend::Sqlite => None,
        Backend::Postgres => {
            let Some(url) = tokio::runtime::Runtime::new()
                .unwrap()
                .block_on(lumio_store::testing::fresh_postgres_url())
            else {
                return;
            };
            Some(url)
        }
    };
    let data = tempfile::tempdir().unwrap();
    let token = "lumio_admin_webhook_kill_test_0001";
    let env = [
        ("LUMIO_WEBHOOK_LEASE_SECS", "3"),
        ("LUMIO_WEBHOOK_RETRY_BASE_MS", "200"),
    ];
    let launch = || {
        TestServer::launch(Launch {
            database_url: database_url.clone(),
            data_dir: Some(data.path()),
            admin_token: Some(token),
            env: &env,
            ..Launch::default()
        })
    };
    let mut server = launch();
    let admin = server.admin();
    admin.ok(&["extensions", "create", EXT]);
    let receiver = Receiver::start();
    let (_, secret) = add_receiver(&admin, &receiver, "secret.*");
    // The first attempt is held unanswered: the server dies with it in flight.
    receiver.script(&[Reply::Hang]);
    for n in 1..=6 {
        admin.ok(&with_ext(&["env", "set", &format!("KEY_{n}"), "value"]));
    }
    receiver.wait_until(Duration::from_secs(10), |s| !s.is_empty());
    server.kill();
    let before = receiver.seen().len();
    assert_eq!(before, 1, "only the held attempt went out before the kill");

    let server = launch();
    let seen = receiver.wait_until(Duration::from_secs(40), |seen| {
        seen.iter().map(|r| &r.id).collect::<HashSet<_>>().len() >= 6
    });
    let mut names: Vec<String> = Vec::new();
    let mut per_id: HashMap<&str, usize> = HashMap::new();
    for r in &seen {
        assert_signed(r, &secret);
        *per_id.entry(&r.id).or_default() += 1;
        let name = r.json()["data"]["name"].as_str().unwrap().to_owned();
        if !names.contains(&name) {
            names.push(name);
        }
    }
    assert_eq!(
        names,
        (1..=6).map(|n| format!("KEY_{n}")).collect::<Vec<_>>(),
        "every event, in order: {seen:#?}"
    );
    // At least once: the held one was sent again with its id.
    assert_eq!(per_id[seen[0].id.as_str()], 2, "{per_id:?}");
    let deliveries = server.admin().json(&with_ext(&["webhooks", "deliveries"]));
    assert!(deliveries["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .all(|d| d["state"] == "delivered"));
}

/// Two servers on one PostgreSQL database: each event is delivered by one of them, once;
/// when the one delivering dies, the other takes over.
#[test]
fn two_servers_deliver_each_event_once() {
    let Some(url) = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(lumio_store::testing::fresh_postgres_url())
    else {
        return;
    };
    let token = "lumio_admin_webhook_two_servers_01";
    // Both servers hold the same master key (32 bytes, base64).
    let env = [
        ("LUMIO_WEBHOOK_LEASE_SECS", "3"),
        (
            "LUMIO_MASTER_KEY",
            "d2ViaG9va3MtdHdvLXNlcnZlcnMta2V5LTAxMjM0NTY=",
        ),
    ];
    let launch = || {
        TestServer::launch(Launch {
            database_url: Some(url.clone()),
            admin_token: Some(token),
            env: &env,
            ..Launch::default()
        })
    };
    let (mut a, b) = (launch(), launch());
    let (admin_a, admin_b) = (a.admin(), b.admin());
    admin_a.ok(&["extensions", "create", EXT]);
    let receiver = Receiver::start();
    add_receiver(&admin_a, &receiver, "secret.set");
    for n in 0..20 {
        let admin = if n % 2 == 0 { &admin_a } else { &admin_b };
        admin.ok(&with_ext(&["env", "set", &format!("KEY_{n}"), "value"]));
    }
    let seen = receiver.wait_until(Duration::from_secs(20), |s| s.len() >= 20);
    std::thread::sleep(Duration::from_secs(1));
    let seen_ids: Vec<String> = receiver.seen().into_iter().map(|r| r.id).collect();
    assert_eq!(seen.len(), 20);
    assert_eq!(seen_ids.len(), 20, "an event delivered twice: {seen_ids:?}");

    a.kill();
    for n in 20..25 {
        admin_b.ok(&with_ext(&["env", "set", &format!("KEY_{n}"), "value"]));
    }
    let seen = receiver.wait_until(Duration::from_secs(20), |s| s.len() >= 25);
    let ids: HashSet<String> = seen.iter().map(|r| r.id.clone()).collect();
    assert_eq!(ids.len(), 25, "after the first server died: {seen:#?}");
}

/// Bad receivers are refused with a clear error and nothing stored.
#[test]
fn bad_receivers_are_refused_and_nothing_is_stored() {
    let server = TestServer::launch(Launch {
        no_private_fetch: true,
        ..Launch::default()
    });
    let admin = server.admin();
    admin.ok(&["extensions", "create", EXT]);
    let receiver = Receiver::start();
    for (args, needle) in [
        (
            vec![receiver.url.as_str()],
            "private, loopback or link-local",
        ),
        (
            vec!["http://10.1.2.3/hook"],
            "private, loopback or link-local",
        ),
        (vec!["ftp://example.com/hook"], "scheme"),
        (vec!["not a url"], "not an absolute URL"),
        (
            vec!["https://example.com/h", "--events", "secret.sett"],
            "no change event matches",
        ),
        (
            vec!["https://example.com/h", "--events", "secret.get"],
            "no change event matches",
        ),
    ] {
        let out = admin.run(&with_ext(&[&["webhooks", "add"], &args[..]].concat()), None);
        out.err(needle);
    }
    let listed = admin.json(&with_ext(&["webhooks", "list"]));
    assert_eq!(listed["webhooks"], Value::Array(vec![]));
    assert!(receiver.seen().is_empty());

    // Unreachable (nothing listens there), on a server that allows loopback.
    let open = TestServer::start(Backend::Sqlite).unwrap();
    let admin = open.admin();
    admin.ok(&["extensions", "create", EXT]);
    let closed = format!("http://127.0.0.1:{}/hook", crate::support::free_port());
    let out = admin.run(&with_ext(&["webhooks", "add", &closed]), None);
    out.err("unreachable");
    assert!(out.stderr.contains("connection was refused"), "{out:#?}");
    let listed = admin.json(&with_ext(&["webhooks", "list"]));
    assert_eq!(listed["webhooks"], Value::Array(vec![]));
    // A viewer cannot add one, and an unknown id is a clear not-found.
    let viewer = admin.json(&with_ext(&["tokens", "create", "--role", "viewer"]));
    let viewer = open.shell(viewer["token"].as_str().unwrap());
    viewer
        .run(&with_ext(&["webhooks", "add", &receiver.url]), None)
        .err("owner");
    admin
        .run(&with_ext(&["webhooks", "remove", "wh_missing"]), None)
        .err("not found");
}
