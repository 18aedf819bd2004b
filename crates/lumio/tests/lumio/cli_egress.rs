//! Egress bindings end to end, on SQLite and PostgreSQL: `lumio env set --allow-host`,
//! `env list` (and `--json`), `env bind … --allow-host | --clear` against a running
//! `lumio server` whose action sends the secret with `ctx.fetch`. Two fake APIs stand for
//! two hosts: one reached as `127.0.0.1`, the other as `localhost`.

use crate::support;
use crate::support::fake_api::FakeApi;
use crate::support::project::Project;
use crate::support::server::{Backend, Shell, TestServer};
use lumio_store::on_each_backend;
use serde_json::Value;

on_each_backend!(bindings_are_set_listed_changed_and_enforced_at_once);

const EXT: &str = "egress-example";
const KEY: &str = "sk_live_egress_canary_0123";

const CALL_TS: &str = r#"import { action, v } from "@zaflun/lumio-sdk/server";
export const call = action({
  args: { url: v.string() },
  handler: async (ctx, args) => {
    const key = ctx.secrets.get("PAY_KEY");
    const res = await ctx.fetch(args.url, { headers: { Authorization: `Bearer ${key}` } });
    return res.status;
  },
});
"#;

fn call(admin: &Shell, url: &str) -> support::Output {
    let args = serde_json::json!({ "url": url }).to_string();
    admin.run(&["run", "functions:call", &args, "--extension", EXT], None)
}

fn audit_has(admin: &Shell, event: &str, detail: &str) -> bool {
    let audit = admin.json(&["audit", "--event", event, "--extension", EXT]);
    audit["entries"].as_array().unwrap().iter().any(|e| {
        e["secret"] == "PAY_KEY" && e["detail"].as_str().is_some_and(|d| d.contains(detail))
    })
}

fn bindings_are_set_listed_changed_and_enforced_at_once(db: Backend) {
    let Some(server) = TestServer::start(db) else {
        return;
    };
    let admin = server.admin();
    admin.ok(&["extensions", "create", EXT]);
    let project = Project::empty();
    project.write("lumio.json", &format!("{{\"extension\": \"{EXT}\"}}"));
    project.write("server/functions.ts", CALL_TS);
    admin.ok(&["deploy", project.arg()]);
    let (allowed, other) = (FakeApi::start(), FakeApi::start());
    let other_url = other.url.replace("127.0.0.1", "localhost");

    // A bad host is refused before anything is read or sent.
    let out = admin.run(
        &[
            "env",
            "set",
            "PAY_KEY",
            KEY,
            "--allow-host",
            "https://127.0.0.1/",
            "--extension",
            EXT,
        ],
        None,
    );
    out.err("without a scheme");
    assert!(out.hint().is_some(), "{out:#?}");

    let set = admin.ok(&[
        "env",
        "set",
        "PAY_KEY",
        KEY,
        "--allow-host",
        "127.0.0.1",
        "--extension",
        EXT,
    ]);
    assert!(set.contains("sent only to 127.0.0.1"), "{set}");
    let list = admin.ok(&["env", "list", "--extension", EXT]);
    assert!(
        list.contains("ALLOWED HOSTS") && list.contains("127.0.0.1"),
        "{list}"
    );
    let json = admin.json(&["env", "list", "--extension", EXT]);
    assert_eq!(
        json["secrets"][0]["allowed_hosts"],
        serde_json::json!(["127.0.0.1"])
    );

    // The allowed host gets the key; the other host gets nothing, and it is audited.
    call(&admin, &format!("{}/v1", allowed.url)).ok();
    assert_eq!(
        allowed.last().authorization.as_deref(),
        Some(&*format!("Bearer {KEY}"))
    );
    let out = call(&admin, &format!("{other_url}/v1"));
    out.err("PAY_KEY");
    out.never_shows(KEY);
    assert!(
        out.stderr.contains("fetch_refused") || out.stderr.contains("refused"),
        "{out:#?}"
    );
    // The next step is the binding's, not the private-address one (issue 24).
    let hint = out.hint().unwrap_or_default();
    assert!(
        hint.contains("lumio env bind") && !hint.contains("allow-private-fetch"),
        "{out:#?}"
    );
    assert!(other.seen().is_empty());
    assert!(audit_has(&admin, "egress.blocked", "localhost"));

    // A binding change needs no value, writes no version and holds for the very next call.
    let bound = admin.ok(&[
        "env",
        "bind",
        "PAY_KEY",
        "--allow-host",
        "LOCALHOST",
        "--extension",
        EXT,
    ]);
    assert!(bound.contains("only to localhost"), "{bound}");
    call(&admin, &format!("{other_url}/v2")).ok();
    assert_eq!(other.seen().len(), 1);
    call(&admin, &format!("{}/v2", allowed.url)).err("PAY_KEY");
    assert!(audit_has(
        &admin,
        "secret.binding_changed",
        "allowed hosts: localhost"
    ));
    let json: Value = admin.json(&["env", "list", "--extension", EXT]);
    assert_eq!(json["secrets"][0]["version"], 1);

    // Cleared: anywhere again.
    let cleared = admin.ok(&["env", "bind", "PAY_KEY", "--clear", "--extension", EXT]);
    assert!(cleared.contains("any host"), "{cleared}");
    assert!(admin
        .ok(&["env", "list", "--extension", EXT])
        .contains("any"));
    call(&admin, &format!("{}/v3", allowed.url)).ok();
    assert!(audit_has(&admin, "secret.binding_changed", "unbound"));

    admin
        .run(
            &[
                "env",
                "bind",
                "MISSING",
                "--allow-host",
                "a.com",
                "--extension",
                EXT,
            ],
            None,
        )
        .err("not found");
    let audit = admin.run(&["audit", "--json", "--extension", EXT], None);
    audit.never_shows(KEY);
}
