//! The `lumio` binary against a fake API with canned answers: what it sends (paths, bodies,
//! the token), how it reads values from stdin, how it prints answers and maps errors.

mod support;

use serde_json::{json, Value};
use support::fake_api::FakeApi;
use support::{lumio, run, Output};
use tempfile::TempDir;

const TOKEN: &str = "lumio_tok1_canarytoken";
const SECRETS: &str = "/api/v1/extensions/my-ext/environments/staging/secrets";

/// Runs `lumio ARGS --extension my-ext --url URL --token TOKEN` in a sealed home.
fn lumio_at(api: &FakeApi, args: &[&str], stdin: Option<&str>) -> Output {
    let home = TempDir::new().unwrap();
    let mut cmd = lumio(home.path(), home.path());
    cmd.args(args)
        .args(["--extension", "my-ext", "--url", &api.url, "--token", TOKEN]);
    let out = run(cmd, stdin);
    out.never_shows(TOKEN);
    out
}

fn version_answer(name: &str, version: u64) -> Value {
    json!({"name": name, "version": version, "updated_at": "2025-01-01T00:00:00Z", "updated_by": "tok1"})
}

#[test]
fn set_from_stdin_sends_a_multiline_pem_minus_one_newline() {
    let pem =
        "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\nkqhkiG9w0BAQEF\n-----END PRIVATE KEY-----";
    let api = FakeApi::start(vec![(200, version_answer("TLS_KEY", 2))]);
    let out = lumio_at(&api, &["env", "set", "TLS_KEY"], Some(&format!("{pem}\n")));
    assert_eq!(out.ok(), "Set TLS_KEY (version 2) in my-ext/staging\n");
    out.never_shows("MIIEvQIBADANBg");
    let req = &api.requests()[0];
    assert_eq!(req.method, "PUT");
    assert_eq!(req.target, format!("{SECRETS}/TLS_KEY"));
    assert_eq!(
        req.header("authorization"),
        Some(&*format!("Bearer {TOKEN}"))
    );
    assert_eq!(req.json(), json!({ "value": pem }));
}

#[test]
fn set_strips_exactly_one_crlf_and_keeps_everything_else() {
    let api = FakeApi::start(vec![
        (200, version_answer("A", 1)),
        (200, version_answer("A", 2)),
        (200, version_answer("A", 3)),
    ]);
    lumio_at(&api, &["env", "set", "A"], Some(" v1 \r\n")).ok();
    lumio_at(&api, &["env", "set", "A"], Some("v2\n\n")).ok();
    lumio_at(
        &api,
        &["env", "set", "A", "from-arg", "--env", "staging"],
        None,
    )
    .ok();
    let bodies: Vec<Value> = api
        .requests()
        .iter()
        .map(|r| r.json()["value"].clone())
        .collect();
    assert_eq!(bodies, [json!(" v1 "), json!("v2\n"), json!("from-arg")]);
}

#[test]
fn production_and_json_output() {
    let answer = json!({"secrets": [{"name": "A", "version": 3, "updated_at": "2025-01-01T00:00:00Z", "updated_by": "tok1"}]});
    let api = FakeApi::start(vec![(200, answer.clone()), (200, answer)]);
    let out = lumio_at(
        &api,
        &["env", "list", "--env", "production", "--json"],
        None,
    );
    let printed: Value = serde_json::from_str(out.ok()).expect("--json prints JSON");
    assert_eq!(printed["secrets"][0]["name"], "A");
    let table = lumio_at(&api, &["env", "list"], None);
    let lines: Vec<&str> = table.ok().lines().collect();
    assert!(
        lines[0].starts_with("NAME") && lines[0].contains("UPDATED BY"),
        "{table:#?}"
    );
    assert!(
        lines[1].starts_with("A ") && lines[1].contains("2025-01-01"),
        "{table:#?}"
    );
    let reqs = api.requests();
    assert_eq!(
        reqs[0].target,
        "/api/v1/extensions/my-ext/environments/production/secrets"
    );
}

#[test]
fn empty_list_prints_a_helpful_line() {
    let api = FakeApi::start(vec![(200, json!({"secrets": []}))]);
    let out = lumio_at(&api, &["env", "list"], None);
    assert!(out.ok().contains("lumio env set"), "{out:#?}");
}

#[test]
fn import_delete_history_rollback_audit_send_the_documented_requests() {
    let api = FakeApi::start(vec![
        (
            200,
            json!({"imported": [{"name": "A", "version": 1}, {"name": "B", "version": 4}]}),
        ),
        (200, json!({"name": "A", "deleted": true, "purged": true})),
        (
            200,
            json!({"name": "A", "current_version": 2, "versions": [
            {"version": 2, "created_at": "2025-01-02T00:00:00Z", "created_by": "tok1", "current": true},
            {"version": 1, "created_at": "2025-01-01T00:00:00Z", "created_by": "tok1", "current": false}]}),
        ),
        (200, version_answer("A", 3)),
        (200, json!({"entries": [], "next_before": null})),
    ]);
    let dotenv = "# comment\nexport A=1\nB=\"two words\"\n";
    let out = lumio_at(&api, &["env", "import", "-"], Some(dotenv));
    assert!(
        out.ok().contains("Imported 2 secrets into my-ext/staging"),
        "{out:#?}"
    );
    assert!(out.ok().contains("B (version 4)"), "{out:#?}");
    lumio_at(&api, &["env", "delete", "A", "--purge"], None).ok();
    let history = lumio_at(&api, &["env", "history", "A"], None);
    assert!(
        history.ok().lines().nth(1).unwrap().contains("current"),
        "{history:#?}"
    );
    let rolled = lumio_at(&api, &["env", "rollback", "A", "1"], None);
    assert!(rolled.ok().contains("now version 3"), "{rolled:#?}");
    let audit = [
        "audit",
        "--limit",
        "5",
        "--secret",
        "A",
        "--event",
        "secret.set",
    ];
    lumio_at(&api, &audit, None).ok();

    let reqs = api.requests();
    assert_eq!(
        (reqs[0].method.as_str(), reqs[0].target.as_str()),
        ("POST", SECRETS)
    );
    assert_eq!(reqs[0].json(), json!({ "dotenv": dotenv }));
    assert_eq!(reqs[1].method, "DELETE");
    assert_eq!(reqs[1].target, format!("{SECRETS}/A?purge=true"));
    assert_eq!(reqs[2].target, format!("{SECRETS}/A/versions"));
    assert_eq!(reqs[3].target, format!("{SECRETS}/A/rollback"));
    assert_eq!(reqs[3].json(), json!({ "version": 1 }));
    assert_eq!(
        reqs[4].target,
        "/api/v1/extensions/my-ext/environments/staging/audit?limit=5&secret=A&event=secret.set"
    );
}

#[test]
fn server_errors_become_one_line_with_the_servers_hint() {
    let api = FakeApi::start(vec![
        (
            401,
            json!({"error": {"code": "unauthorized", "message": "token is invalid"}}),
        ),
        (
            404,
            json!({"error": {"code": "not_found", "message": "extension \"my-ext\" not found",
                     "hint": "run `lumio extensions list`"}, "request_id": "r1"}),
        ),
        (
            400,
            json!({"error": {"code": "invalid", "message": "line 3: unterminated quote"}}),
        ),
        (
            500,
            json!({"error": {"code": "internal", "message": "internal error"}, "request_id": "r9"}),
        ),
    ]);
    let out = lumio_at(&api, &["env", "list"], None);
    out.err("token is invalid");
    assert!(out.hint().unwrap().contains("lumio login"), "{out:#?}");
    let out = lumio_at(&api, &["env", "list"], None);
    out.err("extension \"my-ext\" not found");
    assert_eq!(out.hint(), Some("run `lumio extensions list`"));
    lumio_at(&api, &["env", "import", "-"], Some("A=1\nB=2\nC=\"x\n")).err("line 3");
    let out = lumio_at(&api, &["env", "list"], None);
    out.err("internal error");
    assert!(out.hint().unwrap().contains("r9"), "{out:#?}");
    api.requests();

    let api = FakeApi::start_raw(vec![(502, "<html>bad gateway</html>".into())]);
    lumio_at(&api, &["env", "list"], None).err("502");
}

#[test]
fn tokens_create_prints_the_token_alone_on_stdout() {
    let created = json!({"token": "lumio_new_secretpart", "id": "new", "extension": "my-ext", "role": "viewer"});
    let api = FakeApi::start(vec![(201, created)]);
    let args = ["tokens", "create", "--role", "viewer", "--label", "ci"];
    let out = lumio_at(&api, &args, None);
    assert_eq!(out.ok(), "lumio_new_secretpart\n");
    let req = &api.requests()[0];
    assert_eq!(req.target, "/api/v1/tokens");
    assert_eq!(
        req.json(),
        json!({"extension": "my-ext", "role": "viewer", "label": "ci"})
    );
}

#[test]
fn login_saves_credentials_that_later_commands_use_only_for_that_url() {
    let home = TempDir::new().unwrap();
    let whoami = json!({"token_id": "tok1", "admin": true, "extension": null, "role": null});
    let api = FakeApi::start(vec![(200, whoami), (200, json!({"extensions": []}))]);
    let mut cmd = lumio(home.path(), home.path());
    cmd.args(["login", "--url", &api.url]);
    let out = run(cmd, Some(&format!("{TOKEN}\n")));
    assert!(out.ok().contains("instance admin"), "{out:#?}");
    out.never_shows(TOKEN);
    let creds = home.path().join("config").join("credentials.json");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&creds).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let mut cmd = lumio(home.path(), home.path());
    cmd.args(["extensions", "list"]);
    assert!(run(cmd, None).ok().contains("No extensions yet"));
    let reqs = api.requests();
    assert_eq!(reqs[0].target, "/api/v1/whoami");
    assert_eq!(
        reqs[1].header("authorization"),
        Some(&*format!("Bearer {TOKEN}"))
    );

    // The saved token is never sent to another server.
    let mut cmd = lumio(home.path(), home.path());
    cmd.args(["extensions", "list", "--url", "http://127.0.0.1:9"]);
    run(cmd, None).err("no token for http://127.0.0.1:9");
}
