//! What someone with the database's files or a dump sees, for tests that search it for
//! planted values.

use std::path::Path;
use std::process::Command;

/// Every byte of the SQLite database, its WAL and shared memory.
pub fn sqlite_bytes(data_dir: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(data_dir).unwrap() {
        let path = entry.unwrap().path();
        if path.to_string_lossy().contains("lumio.db") {
            all.extend(std::fs::read(&path).unwrap());
        }
    }
    all
}

/// Every row of every table, as text (bytea as hex).
pub fn pg_dump(url: &str) -> Vec<u8> {
    let out = Command::new("pg_dump")
        .args(["--data-only", "--no-owner", url])
        .output()
        .expect("pg_dump (from postgresql-client) must be installed for this test");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("ext_secrets"));
    out.stdout
}
