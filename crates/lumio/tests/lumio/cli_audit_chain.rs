//! Issue 11, item 4 and issue 22, item 5: `lumio audit verify`, `export` and
//! `export-key` with the real binary against a real server, on SQLite and PostgreSQL.
//! The database is tampered with directly, as someone with write access to it would;
//! verify exits 8 naming the record.

use lumio_store::on_each_backend;
use std::sync::Arc;

use crate::support::server::{Backend, Launch, Shell, TestServer};
use chrono::{Duration, Utc};
use lumio_core::{chain_hash_v1, chain_link, ChainFields, ChainKey, GENESIS_HASH};
use lumio_store::{AuditRecord, Store};
use sqlx::Connection;
use tempfile::TempDir;

on_each_backend!(
    an_untouched_log_verifies,
    an_updated_record_is_named,
    a_deleted_record_is_named,
    an_inserted_record_is_named,
    a_backdated_record_is_named,
    a_deleted_chain_row_exits_8,
    export_round_trips,
    export_key_is_for_the_owner_only,
    an_export_after_retention_verifies_offline,
    a_v1_chain_is_keyed_at_start,
);

const EXT: [&str; 2] = ["--extension", "chained"];
const EXT_ID: &str = "(SELECT id FROM extensions WHERE slug = 'chained')";

fn with_ext<'a>(args: &[&'a str]) -> Vec<&'a str> {
    [args, &EXT].concat()
}

/// `chained` with a handful of management records (and the extension's own).
fn setup(db: Backend) -> Option<(TestServer, Shell)> {
    setup_with_env(db, &[])
}

fn setup_with_env(db: Backend, env: &[(&str, &str)]) -> Option<(TestServer, Shell)> {
    let server = TestServer::start_with_env(db, env)?;
    let admin = server.admin();
    admin.ok(&["extensions", "create", "chained"]);
    for (name, value) in [("A", "chain-canary-1"), ("B", "chain-canary-2"), ("A", "x")] {
        admin.ok(&with_ext(&["env", "set", name, value]));
    }
    admin.ok(&with_ext(&["env", "delete", "B"]));
    Some((server, admin))
}

fn database_url(server: &TestServer) -> String {
    server
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", server.data_dir().join("lumio.db").display()))
}

/// Runs SQL straight on the server's database.
fn tamper(server: &TestServer, sql: &str) {
    let url = database_url(server);
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        if url.starts_with("postgres") {
            let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
            sqlx::raw_sql(sql).execute(&mut conn).await.unwrap();
        } else {
            let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
            sqlx::raw_sql(sql).execute(&mut conn).await.unwrap();
        }
    });
}

fn verify_fails(admin: &Shell, needle: &str) {
    let out = admin.run(&with_ext(&["audit", "verify"]), None);
    assert_eq!(out.status.code(), Some(8), "{out:#?}");
    out.err(needle);
    let json = admin.run(&with_ext(&["audit", "verify", "--json"]), None);
    assert_eq!(json.status.code(), Some(8), "{json:#?}");
    let answer: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON on stdout");
    assert_eq!(answer["ok"], false, "{json:#?}");
}

fn an_untouched_log_verifies(db: Backend) {
    let Some((server, admin)) = setup(db) else {
        return;
    };
    let text = admin.ok(&with_ext(&["audit", "verify"]));
    assert!(text.contains("is intact"), "{text}");
    let answer = admin.json(&with_ext(&["audit", "verify"]));
    assert_eq!(answer["ok"], true);
    // extension.create, extension.claim_code, three sets and a delete.
    assert_eq!(answer["records"], 6, "{answer}");
    assert_eq!(answer["head_hash"].as_str().unwrap().len(), 64);
    // Both routes are in the OpenAPI document.
    let doc: serde_json::Value =
        reqwest::blocking::get(format!("{}/api/v1/openapi.json", server.url))
            .unwrap()
            .json()
            .unwrap();
    for path in [
        "/api/v1/extensions/{ext}/audit/verify",
        "/api/v1/extensions/{ext}/audit/export",
    ] {
        assert!(doc["paths"].get(path).is_some(), "openapi lacks {path}");
    }
}

fn an_updated_record_is_named(db: Backend) {
    let Some((server, admin)) = setup(db) else {
        return;
    };
    admin.ok(&with_ext(&["audit", "verify"])); // sealed
    tamper(
        &server,
        &format!("UPDATE ext_audit_log SET actor = 'someone-else' WHERE extension_id = {EXT_ID} AND seq = 2"),
    );
    verify_fails(&admin, "(seq 2) was changed");
}

fn a_deleted_record_is_named(db: Backend) {
    let Some((server, admin)) = setup(db) else {
        return;
    };
    admin.ok(&with_ext(&["audit", "verify"]));
    tamper(
        &server,
        &format!("DELETE FROM ext_audit_log WHERE extension_id = {EXT_ID} AND seq = 3"),
    );
    verify_fails(&admin, "the record at seq 3 was removed");
}

fn an_inserted_record_is_named(db: Backend) {
    let Some((server, admin)) = setup(db) else {
        return;
    };
    admin.ok(&with_ext(&["audit", "verify"]));
    let (at, hash) = if server.database_url.is_some() {
        (
            "now()".to_owned(),
            format!("'\\x{}'::bytea", "ab".repeat(32)),
        )
    } else {
        (
            chrono::Utc::now().timestamp_micros().to_string(),
            format!("x'{}'", "ab".repeat(32)),
        )
    };
    tamper(
        &server,
        &format!(
            "INSERT INTO ext_audit_log (at, extension_id, event, seq, hash) \
             VALUES ({at}, {EXT_ID}, 'secret.get', 7, {hash})"
        ),
    );
    verify_fails(&admin, "(seq 7) was inserted");
}

fn a_backdated_record_is_named(db: Backend) {
    let Some((server, admin)) = setup(db) else {
        return;
    };
    admin.ok(&with_ext(&["audit", "verify"]));
    let at = if server.database_url.is_some() {
        "now() - interval '1 hour'".to_owned()
    } else {
        (Utc::now() - Duration::hours(1))
            .timestamp_micros()
            .to_string()
    };
    // Unsealed, as a change's record would be: the sealer seals it at the head.
    tamper(
        &server,
        &format!(
            "INSERT INTO ext_audit_log (at, extension_id, event, actor, outcome) \
             VALUES ({at}, {EXT_ID}, 'secret.set', 'tok_someone', 'ok')"
        ),
    );
    verify_fails(&admin, "(seq 7) was inserted");
}

fn a_deleted_chain_row_exits_8(db: Backend) {
    let Some((server, admin)) = setup(db) else {
        return;
    };
    admin.ok(&with_ext(&["audit", "verify"]));
    tamper(
        &server,
        &format!("DELETE FROM ext_audit_chain WHERE extension_id = {EXT_ID}"),
    );
    verify_fails(&admin, "its chain row (head and anchor) was deleted");
}

/// An owner token of `chained`.
fn owner(server: &TestServer, admin: &Shell) -> Shell {
    let token = admin.ok(&with_ext(&["tokens", "create", "--role", "owner"]));
    server.shell(token.trim())
}

/// The chain key as `lumio audit export-key` prints it, written to a file.
fn export_key(owner: &Shell, dir: &TempDir) -> (String, std::path::PathBuf) {
    let hex = owner
        .ok(&with_ext(&["audit", "export-key"]))
        .trim()
        .to_owned();
    assert_eq!(hex.len(), 64, "{hex}");
    let path = dir.path().join("audit.key");
    std::fs::write(&path, format!("{hex}\n")).unwrap();
    (hex, path)
}

/// The exported key (hex) as the chain key type.
fn chain_key(hex: &str) -> ChainKey {
    let mut key = [0u8; 32];
    for (i, byte) in key.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
    }
    ChainKey::from_bytes(key)
}

fn export_round_trips(db: Backend) {
    let Some((server, admin)) = setup(db) else {
        return;
    };
    let owner = owner(&server, &admin);
    let dir = TempDir::new().unwrap();
    let (key_hex, key_file) = export_key(&owner, &dir);
    let out = admin.run(&with_ext(&["audit", "export", "--format", "jsonl"]), None);
    let text = out.ok().to_owned();
    out.never_shows("chain-canary-1");
    out.never_shows("chain-canary-2");
    let records: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect();
    // setup's six (the extension, its claim code, three sets and a delete), the owner
    // token's creation and the key export.
    assert_eq!(records.len(), 8, "{text}");
    // The documented encoding, from the export and the key alone.
    let key = chain_key(&key_hex);
    let mut previous = GENESIS_HASH;
    for (i, r) in records.iter().enumerate() {
        let s = |k: &str| r[k].as_str();
        let at = chrono::DateTime::parse_from_rfc3339(s("at").unwrap()).unwrap();
        let fields = ChainFields {
            extension_id: r["extension_id"].as_i64().unwrap(),
            at_micros: at.timestamp_micros(),
            environment: s("environment"),
            event: s("event").unwrap(),
            secret_name: s("secret"),
            actor: s("actor"),
            action: s("action"),
            request_id: s("request_id"),
            outcome: s("outcome"),
            detail: s("detail"),
        };
        assert_eq!(r["seq"], i as u64 + 1);
        let hash = chain_link(&key, &previous, i as u64 + 1, &fields);
        let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(s("hash"), Some(hex.as_str()), "{r}");
        previous = hash;
    }
    let head = admin.json(&with_ext(&["audit", "verify"]));
    let hex: String = previous.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(head["head_hash"], hex.as_str());
    offline_verifier(&text, &key_file).expect(&hex);
    // With another key the offline verifier refuses the export.
    let wrong = dir.path().join("wrong.key");
    std::fs::write(&wrong, "11".repeat(32)).unwrap();
    offline_verifier(&text, &wrong).refused("does not match its hash");
    // --since far ahead: nothing.
    let later = admin.ok(&with_ext(&[
        "audit",
        "export",
        "--format",
        "jsonl",
        "--since",
        "2999-01-01T00:00:00Z",
    ]));
    assert_eq!(later, "");
}

/// `export-key` answers an owner of the extension only, is audited, and the key is in
/// no log line of the server (at debug level) nor, in the clear, in the database file.
fn export_key_is_for_the_owner_only(db: Backend) {
    let Some((server, admin)) = setup_with_env(db, &[("LUMIO_LOG", "debug")]) else {
        return;
    };
    let refused = admin.run(&with_ext(&["audit", "export-key"]), None);
    refused.err("owner token of this extension");
    assert_eq!(refused.status.code(), Some(3), "{refused:#?}");
    let viewer = admin.ok(&with_ext(&["tokens", "create", "--role", "viewer"]));
    let viewer = server.shell(viewer.trim());
    viewer
        .run(&with_ext(&["audit", "export-key"]), None)
        .err("owner token of this extension");
    let developer = admin.ok(&with_ext(&["tokens", "create", "--role", "developer"]));
    server
        .shell(developer.trim())
        .run(&with_ext(&["audit", "export-key"]), None)
        .err("owner token of this extension");
    let owner = owner(&server, &admin);
    let dir = TempDir::new().unwrap();
    let (key, _) = export_key(&owner, &dir);
    let answer = owner.json(&with_ext(&["audit", "export-key"]));
    assert_eq!(answer["key"], key.as_str());
    assert_eq!(answer["encoding"], "lumio-audit-v2");
    // Each export is a record in the extension's own chain, naming the owner's token.
    let log = admin.json(&with_ext(&["audit", "--event", "audit.key_exported"]));
    let entries = log["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{log}");
    assert!(entries[0]["actor"].is_string(), "{log}");
    admin.ok(&with_ext(&["audit", "verify"]));
    let log = server.log();
    assert!(log.contains("DEBUG"), "not a debug log:\n{log}");
    assert!(!log.contains(&key), "the chain key is in the server log");
    if server.database_url.is_none() {
        let raw: Vec<u8> = (0..32)
            .map(|i| u8::from_str_radix(&key[2 * i..2 * i + 2], 16).unwrap())
            .collect();
        for file in ["lumio.db", "lumio.db-wal"] {
            let bytes = std::fs::read(server.data_dir().join(file)).unwrap_or_default();
            let hex = key.as_bytes();
            assert!(!bytes.windows(64).any(|w| w == hex), "key (hex) in {file}");
            assert!(!bytes.windows(32).any(|w| w == raw), "key (raw) in {file}");
        }
    }
    // The route is in the OpenAPI document.
    let doc: serde_json::Value =
        reqwest::blocking::get(format!("{}/api/v1/openapi.json", server.url))
            .unwrap()
            .json()
            .unwrap();
    assert!(doc["paths"]
        .get("/api/v1/extensions/{ext}/audit/key")
        .is_some());
}

/// Issue 22, item 5: after retention, a full export verifies offline with the key, even
/// when a record stamped after the cut-off was sealed before the new anchor (records are
/// sealed in commit order, within the allowed skew).
fn an_export_after_retention_verifies_offline(db: Backend) {
    let database_url = match db {
        Backend::Sqlite => None,
        Backend::Postgres => match tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(lumio_store::testing::fresh_postgres_url())
        {
            Some(url) => Some(url),
            None => return,
        },
    };
    let data = TempDir::new().unwrap();
    let url = database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}/lumio.db", data.path().display()));
    let token = "lumio_admin_chain_retention_0123456789";
    let launch = |env: &'static [(&'static str, &'static str)]| {
        TestServer::launch(Launch {
            database_url: database_url.clone(),
            data_dir: Some(data.path()),
            admin_token: Some(token),
            env,
            ..Launch::default()
        })
    };
    let first = launch(&[]);
    first.admin().ok(&["extensions", "create", "chained"]);
    drop(first);
    seed_history(&url, data.path());

    let server = launch(&[("LUMIO_AUDIT_RETENTION_DAYS", "30")]);
    let admin = server.admin();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !server.log().contains("audit retention pass") {
        assert!(std::time::Instant::now() < deadline, "{}", server.log());
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let verdict = admin.json(&with_ext(&["audit", "verify"]));
    assert_eq!(verdict["ok"], true, "{verdict}");
    let owner = owner(&server, &admin);
    let dir = TempDir::new().unwrap();
    let (_, key_file) = export_key(&owner, &dir);
    let text = admin.ok(&with_ext(&["audit", "export", "--format", "jsonl"]));
    assert!(text.contains("\"audit.pruned\""), "{text}");
    // Stamped after the cut-off, sealed before the anchor: kept, and not covered.
    assert!(text.contains("just-after-cutoff"), "{text}");
    assert!(!text.contains("old-40d"), "{text}");
    let head = admin.json(&with_ext(&["audit", "verify"]));
    let out = offline_verifier(&text, &key_file);
    out.expect(head["head_hash"].as_str().unwrap());
    out.expect("1 kept from before it");
}

/// Months of history written straight into the store with the instance's own audit key
/// (opened from `lumio_meta` with the data directory's master key), as a server would
/// have sealed it: the extension's creation back-dated first, then records in time
/// order — except one stamped just after the cut-off that was committed just before a
/// record stamped just before it.
fn seed_history(url: &str, data_dir: &std::path::Path) {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store: Arc<dyn Store> = lumio_store::connect(url).await.expect("store");
        let master = std::fs::read_to_string(data_dir.join("master.key")).unwrap();
        let keys = lumio_crypto::Keyring::new(
            lumio_crypto::MasterKey::from_base64(&master).unwrap(),
            vec![],
        );
        let root = lumio_secrets::load_audit_root(store.as_ref(), &keys)
            .await
            .unwrap();
        store.set_audit_root(root);
        let slug = lumio_core::ExtensionSlug::parse("chained").unwrap();
        let ext = store.find_extension(&slug).await.unwrap().unwrap().id;
        // The chain as if the extension had been made 60 days ago.
        let back = |sql: &str| sql.replace("{ext}", &ext.to_string());
        let restamp = if url.starts_with("postgres") {
            "UPDATE ext_audit_log SET at = now() - interval '60 days', seq = NULL, hash = NULL \
             WHERE extension_id = {ext}; DELETE FROM ext_audit_chain WHERE extension_id = {ext}"
        } else {
            "UPDATE ext_audit_log SET at = at - 60 * 86400000000, seq = NULL, hash = NULL \
             WHERE extension_id = {ext}; DELETE FROM ext_audit_chain WHERE extension_id = {ext}"
        };
        raw_sql(url, &back(restamp)).await;
        store
            .prepare_audit_log(Utc::now() + Duration::days(1))
            .await
            .unwrap();
        store.seal_audit(None).await.unwrap();
        let cutoff = Utc::now() - Duration::days(30);
        let at = |age: Duration, label: &str| AuditRecord {
            at: Utc::now() - age,
            extension_id: ext,
            environment: Some(lumio_core::Environment::Staging),
            event: lumio_core::AuditEvent::SecretGet,
            secret_name: Some("API_KEY".into()),
            actor: None,
            action: Some("reads".into()),
            request_id: None,
            outcome: Some("found".into()),
            detail: Some(label.into()),
        };
        let mut records: Vec<_> = (0..3)
            .map(|i| at(Duration::days(40), &format!("old-40d-{i}")))
            .collect();
        records.push(AuditRecord {
            at: cutoff + Duration::seconds(50),
            ..at(Duration::zero(), "just-after-cutoff")
        });
        store.append_audit(&records).await.expect("seed");
        store.seal_audit(None).await.unwrap();
        // Committed (and sealed) after the one stamped 90 s later.
        let mut records = vec![AuditRecord {
            at: cutoff - Duration::seconds(40),
            ..at(Duration::zero(), "just-before-cutoff")
        }];
        records.push(at(Duration::days(29), "new-29d"));
        records.push(at(Duration::days(5), "new-5d"));
        store.append_audit(&records).await.expect("seed");
        store.seal_audit(None).await.unwrap();
        assert!(matches!(
            store.verify_audit(ext).await.unwrap(),
            lumio_store::ChainVerdict::Intact { .. }
        ));
    });
}

async fn raw_sql(url: &str, sql: &str) {
    if url.starts_with("postgres") {
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::raw_sql(sql).execute(&mut conn).await.unwrap();
    } else {
        let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::raw_sql(sql).execute(&mut conn).await.unwrap();
    }
}

/// What the Python verifier of docs/audit-chain.md said about an export.
struct Verdict(Option<std::process::Output>);

impl Verdict {
    /// It accepted the export and its output holds `needle`.
    #[track_caller]
    fn expect(&self, needle: &str) {
        let Some(out) = &self.0 else { return };
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{out:?}");
        assert!(stdout.contains(needle), "{stdout}");
    }

    /// It refused the export, saying `needle`.
    #[track_caller]
    fn refused(&self, needle: &str) {
        let Some(out) = &self.0 else { return };
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{out:?}");
        assert!(stderr.contains(needle), "{stderr}");
    }
}

/// Runs the Python verifier of docs/audit-chain.md over the export with the key file
/// (when python3 is installed).
fn offline_verifier(export: &str, key_file: &std::path::Path) -> Verdict {
    let doc = include_str!("../../../../docs/audit-chain.md");
    let code = doc
        .split("```python\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("docs/audit-chain.md has a Python verifier");
    let dir = tempfile::tempdir().unwrap();
    let (script, jsonl) = (dir.path().join("verify.py"), dir.path().join("audit.jsonl"));
    std::fs::write(&script, code).unwrap();
    std::fs::write(&jsonl, export).unwrap();
    match std::process::Command::new("python3")
        .arg(&script)
        .arg(&jsonl)
        .arg(key_file)
        .output()
    {
        Ok(out) => Verdict(Some(out)),
        Err(_) => {
            lumio_store::testing::skip_unless_required(
                "python3 is not installed: the documented offline verifier was not run",
                None,
            );
            Verdict(None)
        }
    }
}

/// A log written by a server before keyed links (plain SHA-256, `lumio-audit-v1`, its
/// chain row not keyed): the next start checks it and links it again under its key, with
/// an `audit.chain_keyed` record saying the old chain was intact; verify then passes.
fn a_v1_chain_is_keyed_at_start(db: Backend) {
    let database_url = match db {
        Backend::Sqlite => None,
        Backend::Postgres => match tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(lumio_store::testing::fresh_postgres_url())
        {
            Some(url) => Some(url),
            None => return,
        },
    };
    let data = TempDir::new().unwrap();
    let token = "lumio_admin_chain_upgrade_0123456789";
    let launch = || {
        TestServer::launch(Launch {
            database_url: database_url.clone(),
            data_dir: Some(data.path()),
            admin_token: Some(token),
            ..Launch::default()
        })
    };
    let first = launch();
    let admin = first.admin();
    admin.ok(&["extensions", "create", "chained"]);
    for (name, value) in [("A", "upgrade-canary-1"), ("B", "upgrade-canary-2")] {
        admin.ok(&with_ext(&["env", "set", name, value]));
    }
    let text = admin.ok(&with_ext(&["audit", "export", "--format", "jsonl"]));
    let blob = |h: &[u8; 32]| {
        let hex: String = h.iter().map(|b| format!("{b:02x}")).collect();
        if first.database_url.is_some() {
            format!("'\\x{hex}'::bytea")
        } else {
            format!("x'{hex}'")
        }
    };
    // Rewrite the chain as an older server would have left it.
    let mut previous = GENESIS_HASH;
    let mut sql = String::new();
    let mut count = 0;
    for line in text.lines() {
        let r: serde_json::Value = serde_json::from_str(line).unwrap();
        let s = |k: &str| r[k].as_str();
        let at = chrono::DateTime::parse_from_rfc3339(s("at").unwrap()).unwrap();
        let fields = ChainFields {
            extension_id: r["extension_id"].as_i64().unwrap(),
            at_micros: at.timestamp_micros(),
            environment: s("environment"),
            event: s("event").unwrap(),
            secret_name: s("secret"),
            actor: s("actor"),
            action: s("action"),
            request_id: s("request_id"),
            outcome: s("outcome"),
            detail: s("detail"),
        };
        count += 1;
        previous = chain_hash_v1(&previous, r["seq"].as_u64().unwrap(), &fields);
        sql.push_str(&format!(
            "UPDATE ext_audit_log SET hash = {} WHERE id = {};",
            blob(&previous),
            r["id"]
        ));
    }
    let keyed_false = if first.database_url.is_some() {
        "FALSE"
    } else {
        "0"
    };
    sql.push_str(&format!(
        "UPDATE ext_audit_chain SET head_hash = {}, keyed = {keyed_false} \
         WHERE extension_id = {EXT_ID}; \
         DELETE FROM lumio_meta WHERE key = 'audit_chains_keyed';",
        blob(&previous)
    ));
    tamper(&first, &sql);
    drop(admin);
    drop(first);

    let server = launch();
    let admin = server.admin();
    let answer = admin.json(&with_ext(&["audit", "verify"]));
    assert_eq!(answer["ok"], true, "{answer}\n{}", server.log());
    assert_eq!(answer["records"], count + 1, "{answer}");
    let text = admin.ok(&with_ext(&["audit", "export", "--format", "jsonl"]));
    let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(last["event"], "audit.chain_keyed", "{text}");
    assert!(
        last["detail"]
            .as_str()
            .unwrap()
            .contains(r#""v1":"intact""#),
        "{last}"
    );
    assert!(
        server.log().contains("linked again under its key"),
        "{}",
        server.log()
    );
}
