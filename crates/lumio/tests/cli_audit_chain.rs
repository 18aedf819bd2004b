//! Issue 11, item 4: `lumio audit verify` and `lumio audit export` with the real binary
//! against a real server, on SQLite and PostgreSQL. The database is tampered with
//! directly, as someone with write access to it would; verify exits 8 naming the record.

mod support;

use lumio_core::{chain_hash, ChainFields, GENESIS_HASH};
use sqlx::Connection;
use support::server::{Db, Shell, TestServer};

both_dbs!(
    an_untouched_log_verifies,
    an_updated_record_is_named,
    a_deleted_record_is_named,
    an_inserted_record_is_named,
    export_round_trips,
);

const EXT: [&str; 2] = ["--extension", "chained"];
const EXT_ID: &str = "(SELECT id FROM extensions WHERE slug = 'chained')";

fn with_ext<'a>(args: &[&'a str]) -> Vec<&'a str> {
    [args, &EXT].concat()
}

/// `chained` with a handful of management records (and the extension's own).
fn setup(db: Db) -> Option<(TestServer, Shell)> {
    let server = TestServer::start(db)?;
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

fn an_untouched_log_verifies(db: Db) {
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

fn an_updated_record_is_named(db: Db) {
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

fn a_deleted_record_is_named(db: Db) {
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

fn an_inserted_record_is_named(db: Db) {
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

fn export_round_trips(db: Db) {
    let Some((_server, admin)) = setup(db) else {
        return;
    };
    let out = admin.run(&with_ext(&["audit", "export", "--format", "jsonl"]), None);
    let text = out.ok();
    out.never_shows("chain-canary-1");
    out.never_shows("chain-canary-2");
    let records: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect();
    assert_eq!(records.len(), 6, "{text}");
    // The documented encoding, from the export alone.
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
        let hash = chain_hash(&previous, i as u64 + 1, &fields);
        let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(s("hash"), Some(hex.as_str()), "{r}");
        previous = hash;
    }
    let head = admin.json(&with_ext(&["audit", "verify"]));
    let hex: String = previous.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(head["head_hash"], hex.as_str());
    offline_verifier_agrees(text, &hex);
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

/// Runs the Python verifier of docs/audit-chain.md over the export (when python3 is
/// installed): it must accept the export and print the same head hash.
fn offline_verifier_agrees(export: &str, head: &str) {
    let doc = include_str!("../../../docs/audit-chain.md");
    let code = doc
        .split("```python\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("docs/audit-chain.md has a Python verifier");
    let dir = tempfile::tempdir().unwrap();
    let (script, jsonl) = (dir.path().join("verify.py"), dir.path().join("audit.jsonl"));
    std::fs::write(&script, code).unwrap();
    std::fs::write(&jsonl, export).unwrap();
    let Ok(out) = std::process::Command::new("python3")
        .arg(&script)
        .arg(&jsonl)
        .output()
    else {
        eprintln!("WARNING: python3 not found; the documented offline verifier was not run");
        return;
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(stdout.contains(head), "{stdout}");
}
