//! Helpers shared by the CLI suites: the real `lumio` binary run in a sealed environment,
//! and checks of the `error:` / `hint:` shape.
#![allow(dead_code)] // Each suite uses a different part of this module.

pub mod bao;
pub mod clocked;
pub mod dumps;
pub mod fake_api;
pub mod project;
pub mod prometheus_text;
pub mod server;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// What one run of `lumio` did.
#[derive(Debug)]
pub struct Output {
    pub status: std::process::ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// Asserts success and returns stdout.
    #[track_caller]
    pub fn ok(&self) -> &str {
        assert!(self.status.success(), "lumio failed: {self:#?}");
        &self.stdout
    }

    /// Asserts a failure printed exactly `error: …` (containing `needle`) and at most one
    /// `hint: …` line, and returns the whole of stderr.
    #[track_caller]
    pub fn err(&self, needle: &str) -> &str {
        assert!(!self.status.success(), "lumio succeeded: {self:#?}");
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert!(
            (1..=2).contains(&lines.len()) && lines[0].starts_with("error: "),
            "not one error line and a hint: {self:#?}"
        );
        if let Some(hint) = lines.get(1) {
            assert!(
                hint.starts_with("hint: "),
                "second line is not a hint: {self:#?}"
            );
        }
        assert!(
            lines[0].contains(needle),
            "error lacks {needle:?}: {self:#?}"
        );
        &self.stderr
    }

    /// The hint line, if any.
    pub fn hint(&self) -> Option<&str> {
        self.stderr.lines().nth(1)?.strip_prefix("hint: ")
    }

    /// Asserts `text` appears in neither stdout nor stderr.
    #[track_caller]
    pub fn never_shows(&self, text: &str) {
        assert!(
            !self.stdout.contains(text) && !self.stderr.contains(text),
            "output shows {text:?}: {self:#?}"
        );
    }
}

/// `lumio` with a cleared environment: its config directory and HOME under `home`, run in
/// `cwd`, so neither the developer's credentials nor their LUMIO_* variables leak in.
pub fn lumio(home: &Path, cwd: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lumio"));
    cmd.env_clear()
        .env("HOME", home)
        .env("LUMIO_CONFIG_DIR", home.join("config"))
        .current_dir(cwd);
    if let Some(path) = std::env::var_os("PATH") {
        cmd.env("PATH", path);
    }
    cmd
}

/// Runs `cmd` with `stdin` as its standard input (empty when `None`).
pub fn run(mut cmd: Command, stdin: Option<&str>) -> Output {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("cannot start lumio");
    let mut pipe = child.stdin.take().expect("stdin is piped");
    if let Some(input) = stdin {
        // The child may exit before reading (e.g. on a bad name); that is not an error here.
        let _ = pipe.write_all(input.as_bytes());
    }
    drop(pipe);
    let out = child.wait_with_output().expect("lumio did not finish");
    Output {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A port on 127.0.0.1 that nothing listens on (bound, then released).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}
