//! Issue 24: with `--json`, every failure prints exactly one JSON error object on stdout
//! (`{"error": {"code", "message", "hint"}}`, the server's error shape), whichever
//! command failed and wherever: a command line clap refuses, a value refused before any
//! request, the server's answer, no server at all. The `error:` line stays on stderr.

use crate::support::project::Project;
use crate::support::server::{Backend, TestServer};
use crate::support::{free_port, Output};
use serde_json::Value;

/// The one JSON value on stdout; fails on none, on two, or on anything else there.
#[track_caller]
fn one_json_error(what: &str, out: &Output) -> Value {
    assert!(!out.status.success(), "{what}: succeeded: {out:#?}");
    let values: Vec<Value> = serde_json::Deserializer::from_str(&out.stdout)
        .into_iter::<Value>()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("{what}: stdout is not JSON ({e}): {out:#?}"));
    assert_eq!(values.len(), 1, "{what}: not one JSON object: {out:#?}");
    let error = &values[0]["error"];
    assert!(
        error["code"].is_string() && error["message"].is_string(),
        "{what}: not an error object: {out:#?}"
    );
    assert!(
        out.stderr.starts_with("error: "),
        "{what}: no error line: {out:#?}"
    );
    values[0].clone()
}

#[test]
fn every_json_failure_is_one_error_object() {
    let Some(server) = TestServer::start(Backend::Sqlite) else {
        return;
    };
    let admin = server.admin();
    admin.ok(&["extensions", "create", "json-errors"]);
    let ext = ["--extension", "json-errors"];
    let with = |args: &[&'static str]| -> Vec<&str> { [args, &ext[..], &["--json"]].concat() };
    let mut stranger = server.admin();
    stranger.token = Some("lumio_admin_not_a_real_token_0123456789".into());
    let nowhere = format!("http://127.0.0.1:{}", free_port());
    let project = Project::empty();
    project.write("lumio.json", "{\"extension\": \"json-errors\"}");
    project.write(
        "server/functions.ts",
        "import { action } from \"@zaflun/lumio-sdk/server\";\n\
         export const fails = action({ args: {}, handler: async () => { throw new Error(\"on purpose\"); } });\n",
    );
    admin.ok(&["deploy", project.arg()]);

    let cases: Vec<(&str, Output, &str)> = vec![
        (
            "env delete of a secret not set",
            admin.run(&with(&["env", "delete", "NOT_SET"]), None),
            "not_found",
        ),
        (
            "env delete --purge --yes of a secret not set",
            admin.run(
                &with(&["env", "delete", "NOT_SET", "--purge", "--yes"]),
                None,
            ),
            "not_found",
        ),
        (
            "env list --env prod",
            admin.run(&with(&["env", "list", "--env", "prod"]), None),
            "usage",
        ),
        (
            "an unknown option (clap)",
            admin.run(&with(&["env", "list", "--bogus"]), None),
            "usage",
        ),
        (
            "--json before the subcommand",
            admin.run(
                &[
                    "--json",
                    "env",
                    "history",
                    "NOT_SET",
                    "--extension",
                    "json-errors",
                ],
                None,
            ),
            "not_found",
        ),
        (
            "extensions create of one that exists",
            admin.run(&["extensions", "create", "json-errors", "--json"], None),
            "conflict",
        ),
        (
            "tokens create --role admin",
            admin.run(&with(&["tokens", "create", "--role", "admin"]), None),
            "usage",
        ),
        (
            "a bad token",
            stranger.run(&with(&["env", "list"]), None),
            "unauthorized",
        ),
        (
            "no server",
            admin.run(&["extensions", "list", "--json", "--url", &nowhere], None),
            "unavailable",
        ),
        (
            "audit verify without a token",
            server
                .anonymous_shell()
                .run(&with(&["audit", "verify"]), None),
            "unauthorized",
        ),
        (
            "run: the action threw",
            admin.run(&with(&["run", "functions:fails"]), None),
            "action_error",
        ),
        (
            "login with a refused token",
            server.anonymous_shell().run(
                &[
                    "login",
                    "--url",
                    &server.url,
                    "--token",
                    "lumio_admin_not_a_real_token_0123456789",
                    "--json",
                ],
                None,
            ),
            "unauthorized",
        ),
    ];
    for (what, out, code) in &cases {
        let object = one_json_error(what, out);
        assert_eq!(object["error"]["code"], *code, "{what}: {out:#?}");
        out.never_shows(&server.admin_token);
    }
    // A JSON answer that is itself the failure's report stays the only object: `audit
    // verify` on an intact log succeeds, and `env diff` prints its differences alone.
    admin.ok(&with(&["env", "set", "ONLY_STAGING", "v"]));
    let diff = admin.run(&with(&["env", "diff", "staging", "production"]), None);
    assert_eq!(diff.status.code(), Some(1), "{diff:#?}");
    let answer: Value = serde_json::from_str(&diff.stdout).expect("one JSON document");
    assert!(answer.get("error").is_none(), "{diff:#?}");
}
