//! Issue 24: what an operator of the distroless image (no shell, no `cat`, no `curl`) runs
//! beside the server, against the real `lumio server`: `lumio server admin-token` prints
//! the generated first admin token, and `lumio healthcheck` is the image's health check.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{free_port, lumio, run, Output};

/// A server with a generated first admin token (no `LUMIO_BOOTSTRAP_TOKEN`), killed on drop.
struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Listens on every address, as the image does (`LUMIO_LISTEN=0.0.0.0:7311`).
fn start(data_dir: &Path) -> Server {
    let port = free_port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lumio"));
    cmd.args(["server", "--listen", &format!("0.0.0.0:{port}")])
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("LUMIO_DATABASE_URL")
        .env_remove("LUMIO_MASTER_KEY_FILE")
        .env_remove("LUMIO_BOOTSTRAP_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut server = Server {
        child: cmd.spawn().expect("start lumio server"),
        port,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let health = format!("http://127.0.0.1:{port}/healthz");
    while !reqwest::blocking::get(&health).is_ok_and(|r| r.status().is_success()) {
        if let Ok(Some(status)) = server.child.try_wait() {
            panic!("lumio server exited with {status}");
        }
        assert!(Instant::now() < deadline, "server never healthy");
        std::thread::sleep(Duration::from_millis(100));
    }
    server
}

/// `lumio ARGS` in a clean environment plus `env`.
fn lumio_with(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = lumio(dir, dir);
    cmd.args(args).envs(env.iter().copied());
    run(cmd, None)
}

#[test]
fn admin_token_prints_the_generated_first_token_which_signs_in() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let server = start(&data_dir);
    let data = data_dir.to_str().unwrap();

    let by_flag = lumio_with(
        dir.path(),
        &["server", "admin-token", "--data-dir", data],
        &[],
    );
    let token = by_flag.ok().trim().to_owned();
    assert!(token.len() >= 32, "{by_flag:#?}");
    assert_eq!(by_flag.stdout, format!("{token}\n"), "the token alone");
    // In the image the data directory comes from LUMIO_DATA_DIR.
    let by_env = lumio_with(
        dir.path(),
        &["server", "admin-token"],
        &[("LUMIO_DATA_DIR", data)],
    );
    assert_eq!(by_env.ok().trim(), token);

    let answer = reqwest::blocking::Client::new()
        .get(format!(
            "http://127.0.0.1:{}/api/v1/extensions",
            server.port
        ))
        .bearer_auth(&token)
        .send()
        .unwrap();
    assert_eq!(answer.status(), 200, "the printed token is an admin's");
}

#[test]
fn admin_token_without_a_saved_token_says_why_and_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let out = lumio_with(
        dir.path(),
        &["server", "admin-token", "--data-dir", "nowhere"],
        &[],
    );
    out.err("cannot read nowhere/admin-token");
    let hint = out.hint().expect("a hint");
    assert!(
        hint.contains("LUMIO_BOOTSTRAP_TOKEN") && hint.contains("--data-dir"),
        "{out:#?}"
    );
}

#[test]
fn healthcheck_exits_0_while_the_server_is_ready_and_1_once_it_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = start(&dir.path().join("data"));
    let listen = format!("0.0.0.0:{}", server.port);
    let url = format!("http://127.0.0.1:{}", server.port);

    // As the image runs it: the address from LUMIO_LISTEN, reached on loopback.
    let local = lumio_with(dir.path(), &["healthcheck"], &[("LUMIO_LISTEN", &listen)]);
    assert_eq!(local.ok().trim(), format!("ok: {url}/readyz"));
    let live = lumio_with(dir.path(), &["healthcheck", "--url", &url, "--live"], &[]);
    assert_eq!(live.ok().trim(), format!("ok: {url}/healthz"));

    let _ = server.child.kill();
    let _ = server.child.wait();
    let down = lumio_with(dir.path(), &["healthcheck", "--url", &url], &[]);
    assert_eq!(down.status.code(), Some(1), "{down:#?}");
    down.err(&format!("{url}/readyz: no answer"));
    assert!(down.hint().is_some_and(|h| h.contains("log")), "{down:#?}");
}
