//! Due dates (issue 28) with the real `lumio` binary against a server whose clock the test
//! moves (never a sleep), on SQLite and PostgreSQL: `env set --expires-in/--expires-at
//! --rotate-every`, the marks of `env list`, `env due` across both environments with its
//! exit status and `--json`, `env due-dates`, a new version restarting the rotation clock
//! and dropping the expiry, bad input storing nothing, and an action reading an expired
//! secret (it gets the value; the audit record says `expired`; `lumio logs` warns).

use crate::support::clocked::ClockedServer;
use crate::support::server::Shell;
use crate::support::Output;
use lumio_store::on_each_backend;
use lumio_store::testing::Backend;
use serde_json::{json, Value};

on_each_backend!(
    set_list_and_due_follow_the_clock,
    a_new_version_restarts_rotation_and_drops_the_expiry,
    due_dates_change_without_a_value,
    bad_input_stores_nothing,
    an_expired_secret_still_reaches_the_action,
);

const EXT: &str = "due-ext";
const VALUES: [&str; 3] = ["due-canary-a91", "due-canary-b72", "due-canary-c53"];

fn start(db: Backend) -> Option<(ClockedServer, Shell)> {
    let server = ClockedServer::start(db)?;
    let admin = server.admin();
    admin.ok(&["extensions", "create", EXT]);
    Some((server, admin))
}

fn args<'a>(words: &[&'a str]) -> Vec<&'a str> {
    [words, &["--extension", EXT]].concat()
}

/// `lumio …` in the extension; checks no value is printed.
fn run(admin: &Shell, words: &[&str]) -> Output {
    let out = admin.run(&args(words), None);
    for value in VALUES {
        out.never_shows(value);
    }
    out
}

/// `lumio … --json` in the extension, whatever its exit status.
fn json(admin: &Shell, words: &[&str]) -> (Option<i32>, Value) {
    let out = run(admin, &[words, &["--json"]].concat());
    let value =
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {out:#?}"));
    (out.status.code(), value)
}

/// The list's entry for `name` in `env`.
fn listed(admin: &Shell, env: &str, name: &str) -> Value {
    let (code, list) = json(admin, &["env", "list", "--env", env]);
    assert_eq!(code, Some(0), "{list}");
    list["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("{name} not listed: {list}"))
        .clone()
}

/// `env due --json`'s (environment, name, state) triples.
fn due_names(report: &Value) -> Vec<(String, String, String)> {
    report["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let text = |k: &str| s[k].as_str().unwrap().to_owned();
            (text("environment"), text("name"), text("due"))
        })
        .collect()
}

fn triple(env: &str, name: &str, state: &str) -> (String, String, String) {
    (env.to_owned(), name.to_owned(), state.to_owned())
}

fn set_list_and_due_follow_the_clock(db: Backend) {
    let Some((server, admin)) = start(db) else {
        return;
    };
    let set = run(
        &admin,
        &["env", "set", "EXPIRING", VALUES[0], "--expires-in", "20d"],
    );
    assert!(set.ok().contains("expires "), "{set:#?}");
    let set = run(
        &admin,
        &[
            "env",
            "set",
            "ROTATED",
            VALUES[1],
            "--rotate-every",
            "30d",
            "--env",
            "production",
        ],
    );
    assert!(set.ok().contains("rotate every 30d"), "{set:#?}");
    run(&admin, &["env", "set", "PLAIN", VALUES[2]]).ok();

    let list = run(&admin, &["env", "list"]);
    let header: Vec<&str> = list
        .ok()
        .lines()
        .next()
        .unwrap()
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(
        header,
        [
            "NAME",
            "VERSION",
            "ALLOWED HOSTS",
            "EXPIRES",
            "ROTATE BY",
            "UPDATED",
            "UPDATED BY"
        ]
    );
    assert!(!list.stdout.contains("(due)"), "{list:#?}");
    assert_eq!(listed(&admin, "staging", "EXPIRING")["due"], "ok");
    assert_eq!(listed(&admin, "staging", "PLAIN")["due"], "ok");
    assert!(listed(&admin, "staging", "PLAIN")
        .get("expires_at")
        .is_none());

    // Nothing within 14 days; a wider window sees the expiry.
    let due = run(&admin, &["env", "due"]);
    assert_eq!(due.status.code(), Some(0), "{due:#?}");
    assert!(due.stdout.contains("Nothing in due-ext"), "{due:#?}");
    let (code, report) = json(&admin, &["env", "due", "--within", "3w"]);
    assert_eq!(code, Some(0));
    assert_eq!(due_names(&report), [triple("staging", "EXPIRING", "due")]);
    assert_eq!(report["late"], false);

    // 10 days on, the expiry is within 14 days: marked, listed, still exit 0.
    server.advance_days(10);
    let list = run(&admin, &["env", "list"]);
    assert!(list.ok().contains("EXPIRING (due)"), "{list:#?}");
    assert!(list.stderr.contains("lumio env due"), "{list:#?}");
    let (code, report) = json(&admin, &["env", "due"]);
    assert_eq!(code, Some(0), "{report}");
    assert_eq!(due_names(&report), [triple("staging", "EXPIRING", "due")]);

    // Past the expiry: expired, exit 1 (for CI); the rotation in production is due.
    server.advance_days(11);
    let due = run(&admin, &["env", "due"]);
    assert_eq!(due.status.code(), Some(1), "{due:#?}");
    assert!(due.stdout.contains("expired"), "{due:#?}");
    let (code, report) = json(&admin, &["env", "due"]);
    assert_eq!(code, Some(1));
    assert_eq!(report["late"], true);
    assert_eq!(
        due_names(&report),
        [
            triple("staging", "EXPIRING", "expired"),
            triple("production", "ROTATED", "due"),
        ]
    );
    assert!(run(&admin, &["env", "list"])
        .ok()
        .contains("EXPIRING (expired)"));

    // Past the rotation date too: overdue, from both environments at once.
    server.advance_days(10);
    let (code, report) = json(&admin, &["env", "due"]);
    assert_eq!(code, Some(1));
    assert_eq!(
        due_names(&report),
        [
            triple("staging", "EXPIRING", "expired"),
            triple("production", "ROTATED", "overdue"),
        ]
    );
    let list = run(&admin, &["env", "list", "--env", "production"]);
    assert!(list.ok().contains("ROTATED (overdue)"), "{list:#?}");
    // A token scoped to staging sees staging's and says it skipped production.
    let scoped = server.block_on(server.app.token_with(json!({
        "extension": EXT, "role": "viewer", "env": "staging", "label": "ci"
    })));
    let (code, report) = json(&server.shell(&scoped), &["env", "due"]);
    assert_eq!(code, Some(1), "{report}");
    assert_eq!(
        due_names(&report),
        [triple("staging", "EXPIRING", "expired")]
    );
    assert_eq!(report["skipped"], json!(["production"]));
}

fn a_new_version_restarts_rotation_and_drops_the_expiry(db: Backend) {
    let Some((server, admin)) = start(db) else {
        return;
    };
    run(
        &admin,
        &[
            "env",
            "set",
            "KEY",
            VALUES[0],
            "--rotate-every",
            "30d",
            "--expires-in",
            "40d",
        ],
    )
    .ok();
    server.advance_days(25);
    assert_eq!(listed(&admin, "staging", "KEY")["due"], "due");
    // A new version: the rotation clock starts again, the expiry is not carried over.
    run(&admin, &["env", "set", "KEY", VALUES[1]]).ok();
    let key = listed(&admin, "staging", "KEY");
    assert_eq!(key["version"], 2);
    assert_eq!(key["due"], "ok", "{key}");
    assert!(key.get("expires_at").is_none(), "{key}");
    assert_eq!(key["rotate_every_secs"], 30 * 86_400);
    let rotate_by: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(key["rotate_by"].clone()).unwrap();
    let left = rotate_by - server.now();
    assert!(
        left > chrono::Duration::days(29) && left <= chrono::Duration::days(30),
        "rotate by {rotate_by}"
    );
    // `off` clears the period; a later version keeps none.
    run(
        &admin,
        &["env", "set", "KEY", VALUES[2], "--rotate-every", "off"],
    )
    .ok();
    let key = listed(&admin, "staging", "KEY");
    assert!(key.get("rotate_by").is_none(), "{key}");
    assert!(key.get("rotate_every_secs").is_none(), "{key}");
    // The set's audit record says the due dates it gave.
    let (_, audit) = json(&admin, &["audit", "--event", "secret.set"]);
    let details: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["detail"].as_str().unwrap())
        .collect();
    assert!(details.contains(&"version 3; rotation off"), "{details:?}");
    assert!(
        details
            .iter()
            .any(|d| d.starts_with("version 1; expires ") && d.ends_with("; rotate every 30d")),
        "{details:?}"
    );
}

fn due_dates_change_without_a_value(db: Backend) {
    let Some((server, admin)) = start(db) else {
        return;
    };
    run(
        &admin,
        &["env", "set", "KEY", VALUES[0], "--rotate-every", "30d"],
    )
    .ok();
    let before = listed(&admin, "staging", "KEY")["rotate_by"].clone();
    server.advance_days(20);
    let changed = run(&admin, &["env", "due-dates", "KEY", "--expires-in", "5d"]);
    assert!(changed.ok().contains("still version 1"), "{changed:#?}");
    let key = listed(&admin, "staging", "KEY");
    assert_eq!(key["version"], 1, "no new version");
    assert_eq!(
        key["rotate_by"], before,
        "the rotation clock kept its start"
    );
    assert!(key["expires_at"].is_string(), "{key}");
    assert_eq!(key["due"], "due");

    let (code, answer) = json(
        &admin,
        &[
            "env",
            "due-dates",
            "KEY",
            "--no-expiry",
            "--rotate-every",
            "off",
        ],
    );
    assert_eq!(code, Some(0), "{answer}");
    assert!(answer.get("expires_at").is_none() && answer.get("rotate_by").is_none());
    assert_eq!(listed(&admin, "staging", "KEY")["due"], "ok");

    let (_, audit) = json(&admin, &["audit", "--event", "secret.due_dates_changed"]);
    let details: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["detail"].as_str().unwrap())
        .collect();
    assert_eq!(details.len(), 2, "{audit}");
    assert_eq!(details[0], "no expiry; rotation off");
    assert!(details[1].starts_with("expires "), "{details:?}");

    let nothing = run(&admin, &["env", "due-dates", "KEY"]);
    assert_eq!(nothing.status.code(), Some(2), "{nothing:#?}");
    nothing.err("nothing to change");
    let missing = run(&admin, &["env", "due-dates", "NOPE", "--expires-in", "1d"]);
    assert_eq!(missing.status.code(), Some(4), "{missing:#?}");
}

fn bad_input_stores_nothing(db: Backend) {
    let Some((_server, admin)) = start(db) else {
        return;
    };
    for (flags, code, needle) in [
        (&["--expires-in", "3x"][..], 2, "--expires-in"),
        (&["--expires-in", "0d"][..], 2, "it is zero"),
        (&["--rotate-every", "monthly"][..], 2, "--rotate-every"),
        (&["--rotate-every=-5d"][..], 2, "--rotate-every"),
        (&["--expires-at", "next tuesday"][..], 2, "not a time"),
        (&["--expires-at", "2001-01-01"][..], 1, "not in the future"),
        (
            &["--expires-at", "2001-01-01T00:00:00Z"][..],
            1,
            "not in the future",
        ),
    ] {
        let out = run(
            &admin,
            &[&["env", "set", "KEY", VALUES[0]][..], flags].concat(),
        );
        assert_eq!(out.status.code(), Some(code), "{flags:?}: {out:#?}");
        out.err(needle);
    }
    let due = run(&admin, &["env", "due", "--within", "soon"]);
    assert_eq!(due.status.code(), Some(2), "{due:#?}");
    let pairs = run(&admin, &["env", "set", "A=1", "--rotate-every", "30d"]);
    assert_eq!(pairs.status.code(), Some(2), "{pairs:#?}");

    let (code, list) = json(&admin, &["env", "list"]);
    assert_eq!(code, Some(0));
    assert_eq!(list["secrets"], json!([]), "nothing was stored");
    let (_, audit) = json(&admin, &["audit", "--event", "secret.set"]);
    assert_eq!(audit["entries"], json!([]));
}

/// Returns whether `KEY` is set and equals the caller's guess (the value never leaves).
const CHECK_TS: &str = r#"import { action, v } from "@zaflun/lumio-sdk/server";
export const check = action({
  args: { guess: v.string() },
  secrets: ["KEY"],
  handler: async (ctx, args) => {
    const key = ctx.secrets.get("KEY");
    return { set: key !== null, matches: key === args.guess };
  },
});
"#;

fn an_expired_secret_still_reaches_the_action(db: Backend) {
    let Some((server, admin)) = start(db) else {
        return;
    };
    let deployed = server.block_on(server.app.api(
        reqwest::Method::POST,
        &format!("/api/v1/extensions/{EXT}/environments/staging/deployments"),
        Some(&server.app.admin_token),
        Some(json!({"files": {"server/f.ts": CHECK_TS}})),
    ));
    assert_eq!(deployed.status.as_u16(), 201, "{}", deployed.text);
    run(
        &admin,
        &["env", "set", "KEY", VALUES[0], "--expires-in", "1d"],
    )
    .ok();
    let guess = json!({ "guess": VALUES[0] }).to_string();
    let fresh = run(&admin, &["run", "f:check", &guess]);
    assert!(fresh.ok().contains("\"matches\": true"), "{fresh:#?}");

    server.advance_days(2);
    let (code, answer) = json(&admin, &["run", "f:check", &guess]);
    assert_eq!(code, Some(0), "{answer}");
    assert_eq!(
        answer["value"],
        json!({"set": true, "matches": true}),
        "the value is still given"
    );

    let (_, audit) = json(&admin, &["audit", "--event", "secret.get"]);
    let outcomes: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["expired", "found"], "newest first");
    let detail = audit["entries"][0]["detail"].as_str().unwrap();
    assert!(detail.contains("expired at "), "{detail}");

    let logs = run(&admin, &["logs"]);
    assert!(
        logs.ok().contains("secret KEY expired at "),
        "the invocation log warns: {logs:#?}"
    );
}
