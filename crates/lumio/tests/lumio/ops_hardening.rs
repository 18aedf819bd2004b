//! Issue 22, item 4: the real `lumio server` process cannot leave a core dump holding its
//! keys: it is not dumpable (`PR_SET_DUMPABLE` 0) and its core file size limit is 0.
//!
//! No `/proc` file shows another process's dumpable flag, but the kernel shows it
//! through ownership: the `/proc/<pid>` entries of a non-dumpable process belong to root
//! whoever runs it. So the server runs as a user other than root (`nobody` when the test
//! is root, as in CI; the test's own user otherwise) and its `/proc` entry must be root's.

use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::free_port;

/// uid of `nobody` on Debian.
const NOBODY: u32 = 65534;

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn field(status: &str, name: &str) -> String {
    status
        .lines()
        .find_map(|line| line.strip_prefix(name))
        .unwrap_or_else(|| panic!("no {name} in {status}"))
        .trim()
        .to_owned()
}

#[test]
fn the_server_process_is_not_dumpable_and_writes_no_core_file() {
    let dir = tempfile::tempdir().unwrap();
    let root = running_as_root();
    let uid = if root {
        NOBODY
    } else {
        dir.path().metadata().unwrap().uid()
    };
    if root {
        std::os::unix::fs::chown(dir.path(), Some(NOBODY), Some(NOBODY)).unwrap();
    }
    let port = free_port();
    let log =
        std::fs::File::create(std::env::temp_dir().join(format!("hardening-{port}.log"))).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lumio"));
    cmd.args(["server", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .env_remove("LUMIO_DATABASE_URL")
        .env_remove("LUMIO_MASTER_KEY_FILE")
        .env("HOME", dir.path())
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log);
    if root {
        cmd.uid(NOBODY).gid(NOBODY);
    }
    let mut server = Server(cmd.spawn().expect("start lumio server"));
    let deadline = Instant::now() + Duration::from_secs(60);
    let health = format!("http://127.0.0.1:{port}/healthz");
    while !reqwest::blocking::get(&health).is_ok_and(|r| r.status().is_success()) {
        if let Ok(Some(status)) = server.0.try_wait() {
            panic!("lumio server exited with {status}");
        }
        assert!(Instant::now() < deadline, "server never healthy");
        std::thread::sleep(Duration::from_millis(100));
    }

    let proc_dir = format!("/proc/{}", server.0.id());
    let status = std::fs::read_to_string(format!("{proc_dir}/status")).unwrap();
    let real_uid: u32 = field(&status, "Uid:")
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(real_uid, uid, "the server runs as the user we chose");
    assert_ne!(uid, 0);
    let owner = std::fs::metadata(format!("{proc_dir}/status"))
        .unwrap()
        .uid();
    assert_eq!(
        owner, 0,
        "/proc/<pid> of a dumpable process belongs to its user ({uid}); the server's is \
         owned by {owner}: PR_SET_DUMPABLE 0 was not applied"
    );

    let limits = std::fs::read_to_string(format!("{proc_dir}/limits")).unwrap();
    let core = limits
        .lines()
        .find(|line| line.starts_with("Max core file size"))
        .expect("a core limit line");
    let numbers: Vec<&str> = core
        .trim_start_matches("Max core file size")
        .split_whitespace()
        .collect();
    assert_eq!(&numbers[..2], ["0", "0"], "soft and hard limits: {core}");
}

/// Whether this test runs as root, read from `/proc/self/status` (no libc call needed).
fn running_as_root() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    field(&status, "Uid:").split_whitespace().nth(1) == Some("0")
}
