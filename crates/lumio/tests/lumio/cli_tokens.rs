//! `lumio tokens` and the server's token safety (issue 11) with the real binary: weak
//! bootstrap tokens and readable key files refuse to start; create/list/revoke; no token
//! secret in any output or log line; revocation through one server process is seen by
//! the very next request through another on the same database.

use lumio_store::on_each_backend;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::server::{Backend, TestServer};

on_each_backend!(
    tokens_are_created_listed_and_revoked_without_showing_a_secret,
    a_revocation_through_one_process_is_seen_by_the_next_request_on_another,
);

/// Runs `lumio server` with `args` and `env` on a fresh data dir, expecting it to exit
/// at once; returns its stderr.
fn refused_start(args: &[&str], env: &[(&str, &str)]) -> String {
    let data = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_lumio"))
        .args(["server", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data.path())
        .args(args)
        .env_remove("LUMIO_BOOTSTRAP_TOKEN")
        .env_remove("LUMIO_MASTER_KEY")
        .env_remove("LUMIO_MASTER_KEY_FILE")
        .env_remove("LUMIO_DATABASE_URL")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("run lumio server");
    assert!(!out.status.success(), "the server started: {out:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn an_empty_or_short_bootstrap_token_refuses_to_start() {
    for weak in ["", "short", "fifteen-chars!!"] {
        let stderr = refused_start(&[], &[("LUMIO_BOOTSTRAP_TOKEN", weak)]);
        assert!(
            stderr.contains("LUMIO_BOOTSTRAP_TOKEN is refused"),
            "{stderr}"
        );
        assert!(
            stderr.contains("at least 16") || stderr.contains("empty"),
            "{stderr}"
        );
        assert!(stderr.contains("openssl rand -hex 32"), "{stderr}");
    }
}

#[test]
fn a_master_key_file_others_can_read_refuses_to_start_unless_overridden() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("master.key");
    std::fs::write(&key, "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=").unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let key_arg = key.to_str().unwrap();
    let stderr = refused_start(&["--master-key-file", key_arg], &[]);
    let expected = format!("permissions 0644 for the master key file {key_arg} are too open");
    assert!(stderr.contains(&expected), "{stderr}");
    assert!(stderr.contains(&format!("chmod 600 {key_arg}")), "{stderr}");
    assert!(
        stderr.contains("--allow-insecure-master-key-file"),
        "{stderr}"
    );

    // The override starts, and says loudly what it is doing.
    let server = TestServer::start_with_env(
        Backend::Sqlite,
        &[
            ("LUMIO_MASTER_KEY_FILE", key_arg),
            ("LUMIO_ALLOW_INSECURE_MASTER_KEY_FILE", "true"),
        ],
    )
    .unwrap();
    assert!(server.log().contains("INSECURE"), "{}", server.log());
    server.admin().ok(&["extensions", "list"]);
}

fn tokens_are_created_listed_and_revoked_without_showing_a_secret(db: Backend) {
    let Some(server) = TestServer::start(db) else {
        return;
    };
    let admin = server.admin();
    admin.ok(&["extensions", "create", "my-ext"]);
    admin.ok(&["extensions", "create", "other-ext"]);
    let bad = admin.run(
        &[
            "tokens",
            "create",
            "--extension",
            "my-ext",
            "--role",
            "viewer",
            "--expires-in",
            "7days",
        ],
        None,
    );
    bad.err("expiry \"7days\" is invalid");
    assert!(bad.hint().unwrap().contains("12h"), "{bad:#?}");

    let create = [
        "tokens",
        "create",
        "--extension",
        "my-ext",
        "--role",
        "developer",
        "--env",
        "staging",
        "--expires-in",
        "7d",
        "--label",
        "ci deploys",
    ];
    let out = admin.run(&create, None);
    let token = out.ok().trim().to_owned();
    assert!(out.stderr.contains("staging only"), "{out:#?}");
    let secret = token.rsplit('_').next().unwrap().to_owned();
    let id = token.split('_').nth(1).unwrap().to_owned();
    let developer = server.shell(&token);
    developer.ok(&["env", "set", "A", "1", "--extension", "my-ext"]);
    let refused = developer.run(
        &[
            "env",
            "list",
            "--extension",
            "my-ext",
            "--env",
            "production",
        ],
        None,
    );
    refused.err("scoped to staging");
    let other = admin.json(&[
        "tokens",
        "create",
        "--extension",
        "other-ext",
        "--role",
        "owner",
    ]);

    let table = admin.run(&["tokens", "list"], None);
    let text = table.ok();
    let row = text
        .lines()
        .find(|l| l.starts_with(&id))
        .expect("the developer token");
    for cell in ["my-ext", "developer", "staging", "ci deploys"] {
        assert!(row.contains(cell), "{cell} missing in {row}");
    }
    assert!(text.lines().next().unwrap().contains("LAST USED"), "{text}");
    let json = admin.json(&["tokens", "list", "--extension", "my-ext"]);
    let listed = json["tokens"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{json}");
    assert_eq!(listed[0]["env"], "staging");
    // Owners see their extension's tokens only.
    let owner = server.shell(other["token"].as_str().unwrap());
    let theirs = owner.json(&["tokens", "list"]);
    assert!(!theirs.to_string().contains(&id), "{theirs}");
    owner.run(&["tokens", "revoke", &id], None).err("not found");

    let revoked = admin.run(&["tokens", "revoke", &id], None);
    assert!(
        revoked.ok().contains(&format!("Revoked token {id}")),
        "{revoked:#?}"
    );
    developer
        .run(&["env", "list", "--extension", "my-ext"], None)
        .err("invalid token");
    let gone = admin.run(&["tokens", "revoke", &id], None);
    gone.err("not found");
    assert!(
        gone.hint().unwrap().contains("lumio tokens list"),
        "{gone:#?}"
    );
    assert!(!admin.ok(&["tokens", "list"]).contains(&id));

    // No secret part of any token in any output above or in the server's log.
    for shown in [&table, &revoked, &gone] {
        shown.never_shows(&secret);
    }
    assert!(!json.to_string().contains(&secret));
    let admin_secret = server.admin_token.rsplit('_').next().unwrap().to_owned();
    let log = server.log();
    for planted in [&secret, &admin_secret] {
        assert!(
            !log.contains(planted.as_str()),
            "a token secret is in the server log"
        );
    }
}

/// Two `lumio server` processes on one database (the first's SQLite file, or one
/// PostgreSQL database), each with its own token cache.
fn a_revocation_through_one_process_is_seen_by_the_next_request_on_another(db: Backend) {
    let Some(a) = TestServer::start(db) else {
        return;
    };
    let database_url = match &a.database_url {
        Some(url) => url.clone(),
        None => format!("sqlite://{}", a.data_dir().join("lumio.db").display()),
    };
    let key = a.data_dir().join("master.key");
    let b = TestServer::start_with_env(
        Backend::Sqlite,
        &[
            ("LUMIO_DATABASE_URL", &database_url),
            ("LUMIO_MASTER_KEY_FILE", key.to_str().unwrap()),
        ],
    )
    .unwrap();
    let admin_a = a.admin();
    let admin_b = b.shell(&a.admin_token);
    admin_a.ok(&["extensions", "create", "shared"]);
    for round in 0..5 {
        let created = admin_a.json(&[
            "tokens",
            "create",
            "--extension",
            "shared",
            "--role",
            "viewer",
        ]);
        let token = created["token"].as_str().unwrap();
        let id = created["id"].as_str().unwrap();
        let viewer_b = b.shell(token);
        viewer_b.ok(&["env", "list", "--extension", "shared"]);
        let started = Instant::now();
        admin_a.ok(&["tokens", "revoke", id]);
        viewer_b
            .run(&["env", "list", "--extension", "shared"], None)
            .err("invalid token");
        assert!(started.elapsed() < Duration::from_secs(30), "round {round}");
    }
    // B serves the admin as before, and lists no revoked token.
    let listed = admin_b.json(&["tokens", "list", "--extension", "shared"]);
    assert_eq!(listed["tokens"], serde_json::json!([]), "{listed}");
}
