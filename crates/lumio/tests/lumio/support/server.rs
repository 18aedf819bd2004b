//! `spawn_app()` for the CLI: the real `lumio server` on a free port against a fresh
//! database, an admin token known in advance, and shells that run `lumio` against it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::{free_port, lumio, run, Output};

/// Which store the server runs on: SQLite under the data directory, or a fresh
/// PostgreSQL database per test (`lumio_store::testing`).
pub use lumio_store::testing::Backend;

/// A running `lumio server`, killed on drop.
pub struct TestServer {
    pub url: String,
    pub admin_token: String,
    /// The PostgreSQL database, when the server runs on one.
    pub database_url: Option<String>,
    child: Child,
    /// Holds the server's log (and its data directory unless one was given).
    data: TempDir,
    data_dir: PathBuf,
}

/// How to start a server beyond the defaults: SQLite under a fresh data directory, a
/// random admin token.
#[derive(Default)]
pub struct Launch<'a> {
    pub database_url: Option<String>,
    /// Where the server keeps its data (say, a small tmpfs).
    pub data_dir: Option<&'a Path>,
    /// The bootstrap admin token (several servers on one database share it).
    pub admin_token: Option<&'a str>,
    pub env: &'a [(&'a str, &'a str)],
    /// The server speaks HTTPS (its certificate set through `env`) with a certificate for
    /// `localhost` signed by this CA (or this very certificate): the URL is
    /// `https://localhost:PORT`.
    pub ca_cert: Option<&'a Path>,
    /// Without `--allow-private-fetch` (tests start servers with it, so that actions and
    /// webhooks can reach loopback).
    pub no_private_fetch: bool,
}

impl TestServer {
    /// Starts a server and waits for `/healthz`. `None` when PostgreSQL is wanted but not
    /// available (the helper has already said so loudly).
    pub fn start(db: Backend) -> Option<Self> {
        Self::start_with_env(db, &[])
    }

    /// Like [`TestServer::start`], with extra environment variables for the server.
    pub fn start_with_env(db: Backend, env: &[(&str, &str)]) -> Option<Self> {
        let database_url = match db {
            Backend::Sqlite => None,
            Backend::Postgres => Some(
                tokio::runtime::Runtime::new()
                    .unwrap()
                    .block_on(lumio_store::testing::fresh_postgres_url())?,
            ),
        };
        Some(Self::launch(Launch {
            database_url,
            env,
            ..Launch::default()
        }))
    }

    /// Starts a server as `launch` says and waits for `/healthz`.
    pub fn launch(launch: Launch<'_>) -> Self {
        let data = TempDir::new().unwrap();
        let data_dir = launch
            .data_dir
            .map_or_else(|| data.path().join("data"), Path::to_path_buf);
        // Port 0 cannot be reported back by the child, so a free port is picked here.
        let port = free_port();
        let admin_token = launch
            .admin_token
            .map_or_else(|| format!("lumio_admin_{:016x}", rand_u64()), str::to_owned);
        let log = std::fs::File::create(data.path().join("server.log")).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_lumio"));
        cmd.args(["server", "--listen", &format!("127.0.0.1:{port}")])
            .arg("--data-dir")
            .arg(&data_dir)
            .args((!launch.no_private_fetch).then_some("--allow-private-fetch"))
            .env("LUMIO_BOOTSTRAP_TOKEN", &admin_token)
            .env_remove("LUMIO_DATABASE_URL")
            .env_remove("LUMIO_MASTER_KEY_FILE")
            .envs(launch.env.iter().copied())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        if let Some(url) = &launch.database_url {
            cmd.args(["--database-url", url]);
        }
        let child = cmd.spawn().expect("cannot start lumio server");
        let url = match launch.ca_cert {
            Some(_) => format!("https://localhost:{port}"),
            None => format!("http://127.0.0.1:{port}"),
        };
        let mut server = Self {
            url,
            admin_token,
            database_url: launch.database_url,
            child,
            data,
            data_dir,
        };
        server.wait_healthy(launch.ca_cert);
        server
    }

    /// The server's process id (to send it signals).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the server at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits up to `within` for the server to exit on its own; its status, or `None`.
    pub fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    fn wait_healthy(&mut self, ca_cert: Option<&Path>) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let health = format!("{}/healthz", self.url);
        // This probe only waits for the port to serve; whether the CLI trusts the
        // certificate (a self-signed CA:TRUE one too) is what the TLS tests check.
        let http = reqwest::blocking::Client::builder()
            .danger_accept_invalid_certs(ca_cert.is_some())
            .build()
            .unwrap();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("lumio server exited with {status}:\n{}", self.log());
            }
            let ok = http
                .get(&health)
                .send()
                .is_ok_and(|r| r.status().is_success());
            if ok {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "server never healthy:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The server's `--data-dir` (SQLite file, master key, admin token).
    pub fn data_dir(&self) -> PathBuf {
        self.data_dir.clone()
    }

    /// What the server printed so far, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data.path().join("server.log")).unwrap_or_default()
    }

    /// A shell logged in through `LUMIO_URL` / `LUMIO_TOKEN` with `token`.
    pub fn shell(&self, token: &str) -> Shell {
        let home = TempDir::new().unwrap();
        let cwd = home.path().to_path_buf();
        Shell {
            url: self.url.clone(),
            token: Some(token.to_owned()),
            home,
            cwd,
        }
    }

    /// A shell with no token: for `lumio login`.
    pub fn anonymous_shell(&self) -> Shell {
        let mut shell = self.shell("");
        shell.token = None;
        shell
    }

    pub fn admin(&self) -> Shell {
        self.shell(&self.admin_token)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Someone at a terminal: a home directory, a working directory, and a token.
pub struct Shell {
    pub url: String,
    pub token: Option<String>,
    pub home: TempDir,
    pub cwd: PathBuf,
}

impl Shell {
    pub fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        self.run_in(&self.cwd, args, stdin)
    }

    pub fn run_in(&self, cwd: &Path, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = lumio(self.home.path(), cwd);
        cmd.env("LUMIO_URL", &self.url).args(args);
        if let Some(token) = &self.token {
            cmd.env("LUMIO_TOKEN", token);
        }
        run(cmd, stdin)
    }

    /// Runs, asserts success, returns stdout.
    #[track_caller]
    pub fn ok(&self, args: &[&str]) -> String {
        self.run(args, None).ok().to_owned()
    }

    /// Runs with `--json`, asserts success, returns the parsed output.
    #[track_caller]
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let out = self.run(&[args, &["--json"]].concat(), None);
        serde_json::from_str(out.ok()).unwrap_or_else(|e| panic!("not JSON ({e}): {out:#?}"))
    }
}

/// Randomness for tokens without another dependency: std's per-process random hasher keys.
fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    hasher.finish()
}
