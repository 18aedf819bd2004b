//! Issue 24, start-up side effects: the real `lumio server` refuses every bad start before
//! it writes anything (no key file, no admin token), and says what to do.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::server::{Launch, TestServer};
use crate::support::{free_port, run, Output};

/// `lumio server` on a free port with `data_dir`, run until it exits on its own.
fn start_server(data_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    start_on(&format!("127.0.0.1:{}", free_port()), data_dir, args, env)
}

fn start_on(listen: &str, data_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lumio"));
    cmd.args(["server", "--listen", listen])
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("LUMIO_DATABASE_URL")
        .env_remove("LUMIO_MASTER_KEY_FILE")
        .env_remove("LUMIO_MASTER_KEY")
        .env_remove("LUMIO_BOOTSTRAP_TOKEN")
        .envs(env.iter().copied());
    run(cmd, None)
}

/// The files under `dir` (recursively), or none when it does not exist.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flat_map(|entry| {
            let path = entry.unwrap().path();
            if path.is_dir() {
                files_under(&path)
            } else {
                vec![path]
            }
        })
        .collect()
}

#[track_caller]
fn assert_refused(out: &Output, needles: &[&str]) {
    assert!(!out.status.success(), "the server started: {out:#?}");
    for needle in needles {
        assert!(out.stderr.contains(needle), "no {needle:?} in {out:#?}");
    }
    assert!(
        !out.stderr
            .contains("created the first instance-admin token"),
        "{out:#?}"
    );
}

#[test]
fn a_store_whose_master_key_was_deleted_is_refused_and_no_new_key_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let mut server = TestServer::launch(Launch {
        data_dir: Some(&data_dir),
        ..Launch::default()
    });
    server.kill();
    let key = data_dir.join("master.key");
    std::fs::remove_file(&key).unwrap();

    let out = start_server(&data_dir, &[], &[]);
    assert_refused(
        &out,
        &[
            "master key file",
            "does not exist",
            "no new key was generated",
            &format!("hint: restore {}", key.display()),
        ],
    );
    assert!(!key.exists(), "a key was generated for a store with data");
}

#[test]
fn a_port_in_use_is_refused_before_a_key_or_an_admin_token_is_made() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let out = start_on(
        &taken.local_addr().unwrap().to_string(),
        &data_dir,
        &[],
        &[],
    );
    assert_refused(
        &out,
        &["cannot listen on", "nothing was written", "--listen"],
    );
    assert_eq!(files_under(&data_dir), Vec::<PathBuf>::new());
}

#[test]
fn a_refused_bootstrap_token_leaves_no_key_file_behind() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let out = start_server(&data_dir, &[], &[("LUMIO_BOOTSTRAP_TOKEN", "short")]);
    assert_refused(&out, &["LUMIO_BOOTSTRAP_TOKEN", "openssl rand -hex 32"]);
    out.never_shows("short\"");
    assert_eq!(files_under(&data_dir), Vec::<PathBuf>::new());
}

#[test]
fn an_unreachable_postgres_is_refused_before_a_key_is_made_and_names_the_cause() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    // A port on loopback nothing listens on: refused at once.
    let url = format!("postgres://root:hunter2@127.0.0.1:{}/test", free_port());
    let out = start_server(
        &data_dir,
        &["--database-url", &url, "--db-timeout", "2"],
        &[],
    );
    assert_refused(&out, &["connection refused", "hint: start PostgreSQL"]);
    assert!(!out.stderr.contains("pool timed out"), "{out:#?}");
    out.never_shows("hunter2");
    assert_eq!(files_under(&data_dir), Vec::<PathBuf>::new());
}

#[test]
fn a_missing_postgres_database_is_named_once_with_a_createdb_hint() {
    let Some(url) = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(lumio_store::testing::fresh_postgres_url())
    else {
        return;
    };
    // The same server and user as a fresh test database, and a name nobody created.
    let (server, _) = url.rsplit_once('/').unwrap();
    let url = format!("{server}/lumio_no_such_database");
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let out = start_server(&data_dir, &["--database-url", &url], &[]);
    assert_refused(
        &out,
        &["no database \"lumio_no_such_database\"", "createdb"],
    );
    assert_eq!(out.stderr.matches("no database").count(), 1, "{out:#?}");
    assert!(!out.stderr.contains("does not exist"), "{out:#?}");
    assert_eq!(files_under(&data_dir), Vec::<PathBuf>::new());
}
