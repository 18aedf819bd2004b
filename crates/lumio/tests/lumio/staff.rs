//! "Lumio staff cannot view the plaintext values" (issue 22), tried as staff would: an
//! instance-admin token, the database (the SQLite file or a pg_dump), the server's log and
//! /metrics — against a claimed extension whose owner planted a value. Staff get no value
//! and no way to deploy code or mint a token inside it; support access works only after
//! the owner approves, and ends when revoked.

use crate::support::dumps::{pg_dump, sqlite_bytes};
use crate::support::project::Project;
use crate::support::server::{Backend, TestServer};
use crate::support::Output;
use lumio_store::on_each_backend;

on_each_backend!(staff_cannot_reach_a_claimed_extensions_values);

const PING: &str = r#"import { action } from "@zaflun/lumio-sdk/server";
export const ping = action({ args: {}, handler: async () => "pong" });
"#;

/// What staff would deploy into the victim's extension: its value, reversed (no guard
/// can tell a transform from legitimate use, so the boundary is who may deploy).
const PEEK: &str = r#"import { action } from "@zaflun/lumio-sdk/server";
export const peek = action({
  args: {},
  secrets: ["DB_PASS"],
  handler: async (ctx) => {
    const v = ctx.secrets.get("DB_PASS") ?? "";
    return { rev: v.split("").reverse().join("") };
  },
});
"#;

fn staff_cannot_reach_a_claimed_extensions_values(db: Backend) {
    let Some(server) = TestServer::start_with_env(db, &[("LUMIO_LOG", "debug")]) else {
        return;
    };
    let admin = server.admin();
    let planted = format!("hunter2-{:x}-very-secret", std::process::id());
    let reversed: String = planted.chars().rev().collect();

    // Staff create the extension; only the claim code comes back.
    let created = admin.json(&["extensions", "create", "victim"]);
    let code = created["claim_code"]
        .as_str()
        .expect("a claim code")
        .to_owned();
    assert!(code.starts_with("lumio_claim_"), "{created}");

    // The customer redeems it with no token of their own; the owner token is saved.
    let owner = server.anonymous_shell();
    let claimed = owner.run(&["extensions", "claim", &code], None);
    assert!(claimed.ok().contains("You own victim"), "{claimed:#?}");
    let again = owner.run(&["extensions", "claim", &code], None);
    let refused = again.err("used already");
    assert!(refused.contains(" by token "), "{again:#?}");
    assert_eq!(again.status.code(), Some(5), "a used code is a conflict");

    // The owner plants a value and deploys their own code.
    let ext = ["--extension", "victim"];
    owner
        .run(
            &[&["env", "set", "DB_PASS"][..], &ext].concat(),
            Some(&planted),
        )
        .ok();
    let own_code = Project::empty();
    own_code.write("lumio.json", r#"{"extension": "victim"}"#);
    own_code.write("server/functions.ts", PING);
    owner.run(&["deploy", own_code.arg()], None).ok();
    let project = Project::empty();
    project.write("lumio.json", r#"{"extension": "victim"}"#);
    project.write("server/functions.ts", PEEK);

    // Staff try everything that writes or runs code inside it: each is refused.
    let outputs = std::cell::RefCell::new(Vec::<Output>::new());
    let refused_as_staff = |args: &[&str], stdin: Option<&str>| {
        let out = admin.run(&[args, &ext].concat(), stdin);
        assert!(!out.status.success(), "staff could run {args:?}: {out:#?}");
        assert!(
            out.stderr.contains("Lumio staff cannot"),
            "{args:?} was not refused as staff: {out:#?}"
        );
        assert!(out.stderr.contains("lumio access request"), "{out:#?}");
        outputs.borrow_mut().push(out);
    };
    refused_as_staff(&["deploy", project.arg()], None);
    refused_as_staff(&["env", "set", "DB_PASS", "mine"], None);
    refused_as_staff(&["env", "set", "OTHER", "x"], None);
    refused_as_staff(&["env", "import", "-"], Some("A=1\n"));
    refused_as_staff(
        &["env", "bind", "DB_PASS", "--allow-host", "evil.example"],
        None,
    );
    refused_as_staff(&["env", "rollback", "DB_PASS", "1"], None);
    refused_as_staff(&["env", "delete", "DB_PASS"], None);
    refused_as_staff(
        &[
            "env",
            "copy",
            "DB_PASS",
            "--from",
            "staging",
            "--to",
            "production",
        ],
        None,
    );
    refused_as_staff(&["tokens", "create", "--role", "owner"], None);
    refused_as_staff(&["tokens", "create", "--role", "developer"], None);
    refused_as_staff(&["logs"], None);

    // What holds no value stays open to staff.
    let names = admin.ok(&[&["env", "list"][..], &ext].concat());
    assert!(names.contains("DB_PASS"), "{names}");
    let audit = admin.ok(&[&["audit", "--limit", "50"][..], &ext].concat());
    assert!(audit.contains("staff:"), "staff appear as staff: {audit}");
    let listing = admin.json(&["extensions", "list"]);
    assert!(
        listing["extensions"][0]["claimed_at"].is_string(),
        "{listing}"
    );

    // The owner's code is still what runs; staff's never arrived.
    let ran = owner.run(&["run", "functions:ping", "--extension", "victim"], None);
    assert!(ran.ok().contains("pong"), "{ran:#?}");
    let peek = owner.run(&["run", "functions:peek", "--extension", "victim"], None);
    assert_eq!(
        peek.status.code(),
        Some(4),
        "no peek action exists: {peek:#?}"
    );
    outputs.borrow_mut().extend([ran, peek]);

    // Support access: asked by staff, nothing until the owner approves, then a
    // developer role; revoked, staff are out again.
    let asked = admin.json(
        &[
            &[
                "access",
                "request",
                "--reason",
                "ticket 4711",
                "--for",
                "1h",
            ][..],
            &ext,
        ]
        .concat(),
    );
    let id = asked["id"].as_str().unwrap().to_owned();
    refused_as_staff(&["env", "set", "HELPED", "1"], None);
    let approve_own = admin.run(&[&["access", "approve", &id][..], &ext].concat(), None);
    assert!(
        !approve_own.status.success(),
        "staff approved their own request"
    );
    let pending = owner.ok(&[&["access", "list"][..], &ext].concat());
    assert!(
        pending.contains("pending") && pending.contains("ticket 4711"),
        "{pending}"
    );
    owner.ok(&[&["access", "approve", &id][..], &ext].concat());
    admin.ok(&[&["env", "set", "HELPED", "1"][..], &ext].concat());
    let refused_owner_token = admin.run(
        &[&["tokens", "create", "--role", "owner"][..], &ext].concat(),
        None,
    );
    assert!(
        !refused_owner_token.status.success(),
        "support access made an owner token"
    );
    owner.ok(&[&["access", "revoke", &id][..], &ext].concat());
    refused_as_staff(&["env", "set", "HELPED", "2"], None);
    let trail = owner.ok(&[&["audit", "--limit", "100"][..], &ext].concat());
    for event in [
        "access.request",
        "access.approve",
        "access.revoke",
        "extension.claim",
    ] {
        assert!(
            trail.contains(event),
            "{event} missing from the audit log: {trail}"
        );
    }

    // Nothing staff can read holds the value, in any form.
    let scraped = scrape(&server);
    let stored = match &server.database_url {
        None => sqlite_bytes(&server.data_dir()),
        Some(url) => pg_dump(url),
    };
    let log = server.log();
    for form in [&planted, &reversed] {
        for out in outputs.borrow().iter() {
            out.never_shows(form);
        }
        assert!(!scraped.contains(form.as_str()), "/metrics shows a value");
        assert!(!log.contains(form.as_str()), "the server log shows a value");
        assert!(
            !stored.windows(form.len()).any(|w| w == form.as_bytes()),
            "the database holds a value in plaintext"
        );
    }
}

/// `/metrics` as staff read it.
fn scrape(server: &TestServer) -> String {
    let answer = reqwest::blocking::Client::new()
        .get(format!("{}/metrics", server.url))
        .bearer_auth(&server.admin_token)
        .send()
        .expect("/metrics");
    assert!(
        answer.status().is_success(),
        "/metrics answered {}",
        answer.status()
    );
    answer.text().expect("/metrics body")
}
