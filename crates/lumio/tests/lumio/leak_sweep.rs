//! Leak sweep: plant unique canary values through every way a value can enter Lumio, use
//! every command that could show one (`env diff` and `env copy` too), then search every
//! output for them: CLI stdout and stderr, API answers (`--json`), the server's log at
//! debug level, the SQLite file's bytes, and every row of the PostgreSQL database (the
//! invocation log's too: an action logs a planted value).

use crate::support::dumps::{pg_dump, sqlite_bytes};
use crate::support::project::Project;
use crate::support::server::{Backend, TestServer};
use crate::support::Output;

#[test]
fn sqlite_leak_sweep() {
    sweep(Backend::Sqlite);
}

#[test]
fn postgres_leak_sweep() {
    sweep(Backend::Postgres);
}

/// Logs ROLL's value (the rollback canary, current after the rollback).
const LOGS_VALUE: &str = r#"import { action } from "@zaflun/lumio-sdk/server";
export const show = action({
  args: {},
  handler: async (ctx) => {
    console.log(`ROLL is ${ctx.secrets.get("ROLL")}`);
    return "shown";
  },
});
"#;

fn canary(tag: &str) -> String {
    let nonce: u64 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    format!("CANARY{tag}{nonce:x}Zq9")
}

/// The forms a value could take in an output: raw, hex and base64.
fn forms(value: &str) -> Vec<String> {
    use std::fmt::Write;
    let hex = value.bytes().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    });
    vec![value.to_owned(), hex, base64(value.as_bytes())]
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (*b as u32) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

fn sweep(db: Backend) {
    let Some(server) = TestServer::start_with_env(db, &[("LUMIO_LOG", "debug")]) else {
        return;
    };
    let canaries = [
        canary("Arg"),
        canary("Stdin"),
        canary("Import"),
        canary("Rollback"),
        canary("Rejected"),
    ];
    let [arg, stdin, import, rollback, rejected] = &canaries;
    let admin = server.admin();
    let mut outputs: Vec<Output> = Vec::new();
    let mut run = |args: &[&str], input: Option<&str>| {
        let out = admin.run(args, input);
        outputs.push(out);
    };
    run(&["extensions", "create", "leaky"], None);
    let ext = ["--extension", "leaky"];
    let with = |extra: &[&'static str], rest: &[&str]| -> Vec<String> {
        // Common options go after the subcommand, as users type them.
        rest.iter()
            .map(|s| s.to_string())
            .chain(extra.iter().map(|s| s.to_string()))
            .collect()
    };
    let mut call = |args: Vec<String>, input: Option<&str>| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run(&args, input);
    };
    call(with(&ext, &["env", "set", "ARG_KEY", arg]), None);
    call(
        with(&ext, &["env", "set", "ARG_KEY", "replaced-value-1"]),
        None,
    );
    let pem = format!("-----BEGIN KEY-----\n{stdin}\n-----END KEY-----\n");
    call(with(&ext, &["env", "set", "PEM_KEY"]), Some(&pem));
    let dir = tempfile::tempdir().unwrap();
    let env_file = dir.path().join("prod.env");
    std::fs::write(
        &env_file,
        format!("export IMPORTED=\"{import}\"\nOTHER='x'\n"),
    )
    .unwrap();
    call(
        with(
            &ext,
            &[
                "env",
                "import",
                env_file.to_str().unwrap(),
                "--env",
                "production",
            ],
        ),
        None,
    );
    call(with(&ext, &["env", "set", "ROLL", rollback]), None);
    call(with(&ext, &["env", "set", "ROLL", "newer"]), None);
    call(with(&ext, &["env", "rollback", "ROLL", "1"]), None);
    // Rejected writes: the value must not be echoed in the error.
    let oversized = format!("{rejected}{}", "y".repeat(70 * 1024));
    call(with(&ext, &["env", "set", "TOO_BIG"]), Some(&oversized));
    call(with(&ext, &["env", "set", "1BAD", rejected]), None);
    let bad_env = dir.path().join("bad.env");
    std::fs::write(&bad_env, format!("GOOD=1\nBROKEN \"{rejected}\n")).unwrap();
    call(
        with(&ext, &["env", "import", bad_env.to_str().unwrap()]),
        None,
    );
    // Copies move planted values between environments on the server, never through the
    // CLI: the rollback canary (ROLL's current value) and the standard-input one to
    // production, then everything back with --all; one with a missing name fails.
    let copy = [
        "env",
        "copy",
        "ROLL",
        "PEM_KEY",
        "--from",
        "staging",
        "--to",
        "production",
    ];
    call(with(&ext, &copy), None);
    let copy_all = [
        "env",
        "copy",
        "--all",
        "--from",
        "production",
        "--to",
        "staging",
    ];
    call(with(&ext, &[&copy_all[..], &["--json"]].concat()), None);
    let missing = [
        "env",
        "copy",
        "ROLL",
        "NO_SUCH",
        "--from",
        "staging",
        "--to",
        "production",
    ];
    call(with(&ext, &missing), None);
    for json in [false, true] {
        let mut read = |args: &[&str]| {
            let mut all = args.to_vec();
            all.extend_from_slice(&["--extension", "leaky"]);
            if json {
                all.push("--json");
            }
            call(all.iter().map(|s| s.to_string()).collect(), None);
        };
        read(&["env", "list"]);
        read(&["env", "list", "--env", "production"]);
        read(&["env", "history", "ARG_KEY"]);
        read(&["env", "history", "ROLL"]);
        read(&["env", "diff", "staging", "production"]);
        read(&["audit", "--limit", "100"]);
        read(&["audit", "verify"]);
        read(&["audit", "export", "--format", "jsonl"]);
        read(&["env", "delete", "PEM_KEY"]);
    }
    run(&["extensions", "list"], None);
    // An action reads a planted value and logs it: the invocation log (its table, and
    // `lumio logs` with and without --json) keeps the line masked and the name read.
    let project = Project::empty();
    project.write("lumio.json", r#"{"extension": "leaky"}"#);
    project.write("server/leak.ts", LOGS_VALUE);
    run(&["deploy", project.arg()], None);
    run(&["run", "leak:show", "--extension", "leaky"], None);
    let logs = admin.run(&["logs", "--extension", "leaky"], None);
    assert!(
        logs.stdout.contains("[REDACTED:ROLL]") && logs.stdout.contains("read ROLL: found"),
        "{logs:#?}"
    );
    let logs_json = admin.run(&["logs", "--extension", "leaky", "--json"], None);
    // Every value rewrapped under a new master key (issue 22): its log and answers too.
    run(&["admin", "rotate-master-key"], None);
    run(&["admin", "rotate-master-key", "--status", "--json"], None);
    outputs.extend([logs, logs_json]);

    // Every CLI output and API answer.
    for out in &outputs {
        for value in &canaries {
            for form in forms(value) {
                assert!(
                    !out.stdout.contains(&form),
                    "stdout leaked a value: {out:#?}"
                );
                assert!(
                    !out.stderr.contains(&form),
                    "stderr leaked a value: {out:#?}"
                );
            }
        }
    }
    // The sets that should have worked did (so the sweep really planted the canaries).
    let failed: Vec<&Output> = outputs.iter().filter(|o| !o.status.success()).collect();
    assert_eq!(
        failed.len(),
        7,
        "only the three rejected writes, the copy of a missing name, the second delete and \
         the two diffs (exit 1: the environments differ) fail: {failed:#?}"
    );

    let log = server.log();
    assert!(
        log.len() > 1000,
        "the debug log is suspiciously short:\n{log}"
    );
    let stored = match &server.database_url {
        None => sqlite_bytes(&server.data_dir()),
        Some(url) => pg_dump(url),
    };
    assert!(!stored.is_empty());
    for value in &canaries {
        for form in forms(value) {
            assert!(!log.contains(&form), "the server log leaked a value");
            assert!(
                !stored.windows(form.len()).any(|w| w == form.as_bytes()),
                "the database holds a value in plaintext"
            );
        }
    }
}
