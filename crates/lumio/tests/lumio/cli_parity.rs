//! `lumio env diff` and `lumio env copy` with the real binary against a real server, on
//! SQLite and PostgreSQL: exit status 0 when the environments match and 1 when they differ,
//! the `--json` shape, copies that are all or nothing, and tokens scoped to one environment.

use crate::support;
use crate::support::server::{Backend, Shell, TestServer};
use lumio_store::on_each_backend;
use serde_json::json;

on_each_backend!(
    diff_exits_1_until_copy_makes_them_equal,
    copy_with_a_missing_name_copies_nothing,
    scoped_token_is_refused,
);

const EXT: [&str; 2] = ["--extension", "my-ext"];
const COPY_ALL: [&str; 7] = [
    "env",
    "copy",
    "--all",
    "--from",
    "staging",
    "--to",
    "production",
];
const VALUES: [&str; 3] = ["shared-cli-canary", "staging-cli-canary", "prod-cli-canary"];

fn with_ext<'a>(args: &[&'a str]) -> Vec<&'a str> {
    [args, &EXT].concat()
}

/// `my-ext` with SAME equal in both environments, DIFF different, ONLY_S in staging only.
fn setup(db: Backend) -> Option<(TestServer, Shell)> {
    let server = TestServer::start(db)?;
    let admin = server.admin();
    admin.ok(&["extensions", "create", "my-ext"]);
    for (name, value, env) in [
        ("SAME", VALUES[0], "staging"),
        ("SAME", VALUES[0], "production"),
        ("DIFF", VALUES[1], "staging"),
        ("DIFF", VALUES[2], "production"),
        ("ONLY_S", VALUES[1], "staging"),
    ] {
        admin.ok(&with_ext(&["env", "set", name, value, "--env", env]));
    }
    Some((server, admin))
}

fn never_shows_values(out: &support::Output) {
    for value in VALUES {
        out.never_shows(value);
    }
}

fn diff_exits_1_until_copy_makes_them_equal(db: Backend) {
    let Some((_server, admin)) = setup(db) else {
        return;
    };
    let diff = admin.run(&with_ext(&["env", "diff", "staging", "production"]), None);
    assert_eq!(diff.status.code(), Some(1), "{diff:#?}");
    assert_eq!(diff.stderr, "", "differences are no error: {diff:#?}");
    never_shows_values(&diff);
    let rows: Vec<Vec<&str>> = diff
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows[0], ["NAME", "STATE"], "{diff:#?}");
    for row in [
        vec!["ONLY_S", "only", "in", "staging"],
        vec!["DIFF", "different", "values"],
        vec!["SAME", "same", "value"],
    ] {
        assert!(rows.contains(&row), "{row:?} missing: {diff:#?}");
    }
    assert!(
        diff.stdout.contains("staging and production differ"),
        "{diff:#?}"
    );

    let json = admin.run(
        &with_ext(&["env", "diff", "production", "staging", "--json"]),
        None,
    );
    assert_eq!(json.status.code(), Some(1), "{json:#?}");
    let parsed: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(
        parsed,
        json!({
            "environment": "production",
            "other": "staging",
            "equal": false,
            "only_in_environment": [],
            "only_in_other": ["ONLY_S"],
            "differ": ["DIFF"],
            "same": ["SAME"],
        })
    );

    let copy = admin.run(
        &with_ext(&[
            "env",
            "copy",
            "DIFF",
            "ONLY_S",
            "SAME",
            "--from",
            "staging",
            "--to",
            "production",
        ]),
        None,
    );
    let text = copy.ok();
    never_shows_values(&copy);
    assert!(
        text.starts_with("Copied 2 secrets from staging to my-ext/production:"),
        "{text}"
    );
    assert!(text.contains("  DIFF (version 2)"), "{text}");
    assert!(text.contains("  ONLY_S (version 1)"), "{text}");
    assert!(text.contains("  SAME unchanged"), "{text}");

    let equal = admin.run(&with_ext(&["env", "diff", "staging", "production"]), None);
    assert_eq!(equal.status.code(), Some(0), "{equal:#?}");
    assert!(
        equal.stdout.contains("staging and production are the same"),
        "{equal:#?}"
    );
    let again = admin.json(&with_ext(&COPY_ALL));
    assert_eq!(again["copied"], json!([]));
    assert_eq!(again["unchanged"], json!(["DIFF", "ONLY_S", "SAME"]));

    // The copy's writes are in production's audit log; the comparisons in both.
    let audit = admin.json(&with_ext(&[
        "audit",
        "--env",
        "production",
        "--event",
        "secret.copy",
    ]));
    assert_eq!(audit["entries"].as_array().unwrap().len(), 2, "{audit}");
    let compared = admin.json(&with_ext(&["audit", "--event", "secret.compared"]));
    assert_eq!(
        compared["entries"].as_array().unwrap().len(),
        3,
        "{compared}"
    );

    // An unknown environment is a clear error.
    let bad = admin.run(&with_ext(&["env", "diff", "staging", "prod"]), None);
    bad.err("\"prod\"");
    assert_eq!(bad.hint(), Some("name staging or production"));
    let same = admin.run(&with_ext(&["env", "diff", "staging", "staging"]), None);
    same.err("two different");
}

fn copy_with_a_missing_name_copies_nothing(db: Backend) {
    let Some((_server, admin)) = setup(db) else {
        return;
    };
    let copy = admin.run(
        &with_ext(&[
            "env",
            "copy",
            "DIFF",
            "NO_SUCH",
            "--from",
            "staging",
            "--to",
            "production",
        ]),
        None,
    );
    copy.err("NO_SUCH");
    assert!(copy.stderr.contains("nothing was copied"), "{copy:#?}");
    let history = admin.json(&with_ext(&[
        "env",
        "history",
        "DIFF",
        "--env",
        "production",
    ]));
    assert_eq!(
        history["versions"].as_array().unwrap().len(),
        1,
        "{history}"
    );
    let bad_name = admin.run(
        &with_ext(&[
            "env",
            "copy",
            "1BAD",
            "--from",
            "staging",
            "--to",
            "production",
        ]),
        None,
    );
    bad_name.err("1BAD");
    let neither = admin.run(
        &with_ext(&["env", "copy", "--from", "staging", "--to", "production"]),
        None,
    );
    assert_eq!(neither.status.code(), Some(2), "{neither:#?}");
    let diff = admin.run(&with_ext(&["env", "diff", "staging", "production"]), None);
    assert_eq!(diff.status.code(), Some(1), "still different: {diff:#?}");
}

fn scoped_token_is_refused(db: Backend) {
    let Some((server, admin)) = setup(db) else {
        return;
    };
    let token = admin.ok(&[
        "tokens",
        "create",
        "--extension",
        "my-ext",
        "--role",
        "owner",
        "--env",
        "staging",
    ]);
    let staging = server.shell(token.trim());
    for args in [
        vec!["env", "diff", "staging", "production"],
        COPY_ALL.to_vec(),
        vec![
            "env",
            "copy",
            "DIFF",
            "--from",
            "production",
            "--to",
            "staging",
        ],
    ] {
        let refused = staging.run(&with_ext(&args), None);
        refused.err("scoped to staging");
        never_shows_values(&refused);
    }
    let diff = admin.run(
        &with_ext(&["env", "diff", "staging", "production", "--json"]),
        None,
    );
    let parsed: serde_json::Value = serde_json::from_str(&diff.stdout).unwrap();
    assert_eq!(parsed["differ"], json!(["DIFF"]), "nothing was copied");
}
