//! Issue 24: every row of README's exit-status table, walked with the real binary
//! against a real server. The rows are read from README.md and from `lumio --help`, so a
//! row added to either without a case here fails the test.

use std::collections::BTreeSet;

use crate::support::project::Project;
use crate::support::server::{Backend, TestServer};
use crate::support::{free_port, lumio, run, Output};
use sqlx::Connection;
use tempfile::TempDir;

const EXT: [&str; 2] = ["--extension", "statuses"];

fn with_ext<'a>(args: &[&'a str]) -> Vec<&'a str> {
    [args, &EXT].concat()
}

/// The statuses of the README's table (`| 3 | auth: … |`).
fn readme_statuses() -> BTreeSet<i32> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("README.md");
    let section = readme
        .split("### Shell completions, manual page, exit status")
        .nth(1)
        .expect("README has the exit-status section");
    section
        .lines()
        .skip_while(|line| !line.starts_with("| status |"))
        .take_while(|line| line.starts_with('|'))
        .filter_map(|line| line.trim_start_matches('|').split('|').next())
        .filter_map(|cell| cell.trim().parse().ok())
        .collect()
}

/// The statuses of the EXIT STATUS table at the end of `lumio --help`.
fn help_statuses() -> BTreeSet<i32> {
    let (home, cwd) = (TempDir::new().unwrap(), TempDir::new().unwrap());
    let mut cmd = lumio(home.path(), cwd.path());
    cmd.arg("--help");
    let help = run(cmd, None);
    help.ok()
        .split("EXIT STATUS:")
        .nth(1)
        .expect("--help has EXIT STATUS")
        .lines()
        .filter_map(|line| line.split_whitespace().next()?.parse().ok())
        .collect()
}

fn status(out: &Output) -> i32 {
    out.status.code().expect("exited, not killed")
}

/// Changes an audit record behind the server's back, as someone with write access to
/// the database would.
fn tamper(server: &TestServer, sql: &str) {
    let url = format!("sqlite://{}", server.data_dir().join("lumio.db").display());
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::raw_sql(sql).execute(&mut conn).await.unwrap();
    });
}

#[test]
fn every_row_of_the_exit_status_table() {
    let Some(server) = TestServer::start(Backend::Sqlite) else {
        return;
    };
    let admin = server.admin();
    admin.ok(&["extensions", "create", "statuses"]);
    admin.ok(&with_ext(&["env", "set", "ONLY_STAGING", "v1"]));
    let viewer_token = admin
        .ok(&with_ext(&["tokens", "create", "--role", "viewer"]))
        .trim()
        .to_owned();
    let viewer = server.shell(&viewer_token);
    let mut stranger = server.admin();
    stranger.token = Some("lumio_admin_not_a_real_token_0123456789".into());
    let nobody = server.anonymous_shell();
    let nowhere = format!("http://127.0.0.1:{}", free_port());
    let project = Project::empty();
    project.write("lumio.json", "{\"extension\": \"statuses\"}");
    project.write(
        "server/functions.ts",
        "import { action } from \"@zaflun/lumio-sdk/server\";\n\
         export const fails = action({ args: {}, handler: async () => { throw new Error(\"on purpose\"); } });\n",
    );
    admin.ok(&["deploy", project.arg()]);

    let mut cases: Vec<(i32, &str, Output)> = vec![
        (0, "success", admin.run(&["extensions", "list"], None)),
        (
            1,
            "an unreadable file",
            admin.run(&with_ext(&["env", "import", "missing.env"]), None),
        ),
        (
            1,
            "no value on standard input",
            admin.run(&with_ext(&["env", "set", "EMPTY"]), Some("")),
        ),
        (
            1,
            "env diff: the environments differ",
            admin.run(&with_ext(&["env", "diff", "staging", "production"]), None),
        ),
        (
            2,
            "an unknown option",
            admin.run(&["env", "list", "--bogus"], None),
        ),
        (
            2,
            "--env prod",
            admin.run(&with_ext(&["env", "list", "--env", "prod"]), None),
        ),
        (
            2,
            "--role admin",
            admin.run(&with_ext(&["tokens", "create", "--role", "admin"]), None),
        ),
        (
            2,
            "--expires-in 1y",
            admin.run(
                &with_ext(&["tokens", "create", "--role", "viewer", "--expires-in", "1y"]),
                None,
            ),
        ),
        (
            2,
            "no lumio.json and no --extension",
            admin.run(&["env", "list"], None),
        ),
        (
            2,
            "a secret name that is not one",
            admin.run(&with_ext(&["env", "set", "lower-case", "v"]), None),
        ),
        (
            2,
            "a server URL with a user name in it",
            admin.run(
                &["extensions", "list", "--url", "http://localhost:x@[::1]:1"],
                None,
            ),
        ),
        (
            3,
            "no saved token",
            nobody.run(&with_ext(&["env", "list"]), None),
        ),
        (
            3,
            "a bad token",
            stranger.run(&with_ext(&["env", "list"]), None),
        ),
        (
            3,
            "a token without the right",
            viewer.run(&with_ext(&["env", "set", "NEW", "v"]), None),
        ),
        (
            4,
            "no such secret",
            admin.run(&with_ext(&["env", "history", "NOT_SET"]), None),
        ),
        (
            4,
            "no such version",
            admin.run(&with_ext(&["env", "rollback", "ONLY_STAGING", "99"]), None),
        ),
        (
            4,
            "no such extension",
            admin.run(&["extensions", "suspend", "absent"], None),
        ),
        (
            4,
            "no such token",
            admin.run(&["tokens", "revoke", "0123456789abcdef"], None),
        ),
        (
            4,
            "no such action",
            admin.run(&with_ext(&["run", "functions:absent"]), None),
        ),
        (
            5,
            "already exists",
            admin.run(&["extensions", "create", "statuses"], None),
        ),
        (
            6,
            "server unreachable",
            admin.run(&["extensions", "list", "--url", &nowhere], None),
        ),
        (
            7,
            "the action threw",
            admin.run(&with_ext(&["run", "functions:fails"]), None),
        ),
    ];
    admin.ok(&with_ext(&["audit", "verify"])); // every record sealed
    tamper(
        &server,
        "UPDATE ext_audit_log SET actor = 'someone-else' WHERE seq = 2 AND extension_id = \
         (SELECT id FROM extensions WHERE slug = 'statuses')",
    );
    cases.push((
        8,
        "the audit log was tampered with",
        admin.run(&with_ext(&["audit", "verify"]), None),
    ));

    for (want, what, out) in &cases {
        assert_eq!(status(out), *want, "{what}: {out:#?}");
        if *want != 0 && !what.starts_with("env diff") {
            out.err(""); // one `error:` line, at most one `hint:`
        }
        out.never_shows(&server.admin_token);
        out.never_shows(&viewer_token);
    }
    let walked: BTreeSet<i32> = cases.iter().map(|(status, ..)| *status).collect();
    assert_eq!(
        walked,
        readme_statuses(),
        "README's table and this walk differ"
    );
    assert_eq!(
        walked,
        help_statuses(),
        "`lumio --help` and this walk differ"
    );
}
