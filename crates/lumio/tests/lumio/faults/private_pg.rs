//! A PostgreSQL instance of the test's own (`initdb` into a temporary directory, its own
//! port), for faults that cut off or stop the database: the shared instance other tests
//! use is never touched. Without PostgreSQL's server binaries the test skips loudly, and
//! fails instead with `LUMIO_REQUIRE_POSTGRES=1`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tempfile::TempDir;

use crate::support::free_port;

pub struct PrivatePg {
    dir: TempDir,
    bin: PathBuf,
    pub port: u16,
    /// As root, PostgreSQL's programs run as the `postgres` user (initdb refuses root).
    as_postgres: bool,
}

impl PrivatePg {
    pub fn start() -> Option<Self> {
        let Some(bin) = server_binaries() else {
            let why = "PostgreSQL's server binaries (initdb, pg_ctl) were not found";
            lumio_store::testing::skip_unless_required(
                &format!("{why}: install the postgresql package"),
                Some("LUMIO_REQUIRE_POSTGRES"),
            );
            return None;
        };
        let as_postgres = is_root();
        let dir = data_dir(as_postgres);
        let pg = Self {
            dir,
            bin,
            port: free_port(),
            as_postgres,
        };
        check(
            pg.command("initdb")
                .args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"])
                .arg(pg.data())
                .output(),
        );
        pg.up();
        Some(pg)
    }

    /// A streaming standby of this instance (`pg_basebackup -R`), started on its own port.
    pub fn standby(&self) -> Self {
        let standby = Self {
            dir: data_dir(self.as_postgres),
            bin: self.bin.clone(),
            port: free_port(),
            as_postgres: self.as_postgres,
        };
        check(
            standby
                .command("pg_basebackup")
                .args([
                    "-h",
                    "127.0.0.1",
                    "-U",
                    "postgres",
                    "-R",
                    "-X",
                    "stream",
                    "-p",
                ])
                .arg(self.port.to_string())
                .arg("-D")
                .arg(standby.data())
                .output(),
        );
        standby.up();
        standby
    }

    /// Makes every commit wait until a standby has flushed it (synchronous replication).
    pub fn synchronous(&self) {
        self.sql(
            "postgres",
            "ALTER SYSTEM SET synchronous_standby_names = '*'",
        );
        self.sql("postgres", "SELECT pg_reload_conf()");
    }

    /// `kill -9` of the postmaster: no shutdown, no checkpoint, connections cut.
    pub fn kill(&self) {
        let pid =
            std::fs::read_to_string(self.data().join("postmaster.pid")).expect("postmaster.pid");
        let pid = pid.lines().next().unwrap().trim().to_owned();
        check(Command::new("kill").args(["-9", &pid]).output());
    }

    /// Promotes this standby to primary and waits until it accepts writes.
    pub fn promote(&self) {
        check(
            self.command("pg_ctl")
                .args(["promote", "-w", "-t", "60", "-D"])
                .arg(self.data())
                .output(),
        );
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn command(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        if self.as_postgres {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--"]).arg(program);
            cmd
        } else {
            Command::new(program)
        }
    }

    /// Starts the server and waits until it accepts connections.
    pub fn up(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
            self.port,
            self.dir.path().display()
        );
        check(
            self.command("pg_ctl")
                .args(["start", "-w", "-t", "60", "-l"])
                .arg(self.dir.path().join("postgres.log"))
                .arg("-D")
                .arg(self.data())
                .args(["-o", &options])
                .output(),
        );
    }

    /// Stops the server (fast shutdown: connections are cut).
    pub fn down(&self) {
        check(
            self.command("pg_ctl")
                .args(["stop", "-w", "-m", "fast", "-D"])
                .arg(self.data())
                .output(),
        );
    }

    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Runs SQL with psql against `database`; panics on failure.
    pub fn sql(&self, database: &str, sql: &str) -> String {
        let out = check(
            Command::new(self.bin.join("psql"))
                .args(["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-c", sql])
                .arg(self.url(database))
                .output(),
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

impl Drop for PrivatePg {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .args(["stop", "-m", "immediate", "-D"])
            .arg(self.data())
            .output();
    }
}

/// A temporary directory for an instance, owned by `postgres` when its programs run as it.
fn data_dir(as_postgres: bool) -> TempDir {
    let dir = TempDir::new().unwrap();
    if as_postgres {
        check(
            Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .output(),
        );
    }
    dir
}

fn server_binaries() -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| Some(entry.ok()?.path().join("bin")))
        .filter(|bin| bin.join("initdb").exists() && bin.join("pg_ctl").exists())
        .collect();
    found.sort();
    found.pop().or_else(|| {
        let bin = Path::new("/usr/local/pgsql/bin");
        bin.join("initdb").exists().then(|| bin.to_path_buf())
    })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

#[track_caller]
fn check(output: std::io::Result<Output>) -> Output {
    let out = output.expect("cannot run a PostgreSQL program");
    assert!(
        out.status.success(),
        "PostgreSQL program failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}
