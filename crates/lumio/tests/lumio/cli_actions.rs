//! `lumio deploy`, `lumio run` and `lumio logs` against a real `lumio server`, on SQLite and
//! on PostgreSQL: the seed's three actions (`examples/seed`) reading secrets set with
//! `lumio env set` and calling a fake API on 127.0.0.1, what the audit log and the logs keep
//! of that, deploy errors, and the multi-file `examples/weather`.
//!
//! The examples call `https://api.example.com/…`; each test deploys a copy whose URL points
//! at its [`FakeApi`] instead (the server runs with `--allow-private-fetch`).

use crate::support::fake_api::FakeApi;
use crate::support::project::{example, Project};
use crate::support::server::{Backend, Shell, TestServer};
use crate::support::Output;
use lumio_store::on_each_backend;
use serde_json::{json, Value};

on_each_backend!(
    seed_actions_read_secrets_at_run_time,
    audit_and_logs_record_invocations,
    deploy_errors_keep_the_active_deployment,
    weather_example_deploys_and_runs,
    deploy_prints_grants_and_warns_about_unset_ones,
);

const EXT: &str = "seed-example";
const NOT_CONFIGURED: &str = "MY_API_KEY is not configured. Add it in the extension dashboard.";
const SEARCH: [&str; 3] = ["run", "functions:callExternalApi", r#"{"query":"x"}"#];

/// Test-only module: logs the key, which `lumio logs` must show masked.
const DEBUG_TS: &str = r#"import { action } from "@zaflun/lumio-sdk/server";
export const logKey = action({
  args: {},
  handler: async (ctx) => {
    const key = ctx.secrets.get("MY_API_KEY");
    console.log(`using key ${key} now`);
    return "logged";
  },
});
"#;

/// A server with extension `seed-example` running a copy of `examples/seed` (adjusted by
/// `adjust`) whose API is `api`.
struct Seed {
    server: TestServer,
    admin: Shell,
    project: Project,
    api: FakeApi,
}

impl Seed {
    fn start(db: Backend, adjust: impl FnOnce(&Project)) -> Option<Self> {
        let server = TestServer::start(db)?;
        let admin = server.admin();
        admin.ok(&["extensions", "create", EXT]);
        let api = FakeApi::start();
        let project = Project::from_example("seed");
        project.rewrite("https://api.example.com", &api.url);
        adjust(&project);
        // Run from elsewhere: the extension comes from DIR's lumio.json.
        let out = admin.run(&["deploy", project.arg()], None);
        let line = out.ok();
        assert!(
            line.starts_with("Deployed seed-example/staging version 1: "),
            "{out:#?}"
        );
        for action in ["callExternalApi", "badAction", "goodAction"] {
            assert!(line.contains(&format!("functions:{action}")), "{out:#?}");
        }
        Some(Self {
            server,
            admin,
            project,
            api,
        })
    }

    /// Runs `lumio` as the admin inside the project (its lumio.json names the extension).
    fn run(&self, args: &[&str]) -> Output {
        self.admin.run_in(self.project.path(), args, None)
    }

    /// `lumio env set NAME VALUE` in the project's extension.
    fn set(&self, name: &str, value: &str) {
        self.run(&["env", "set", name, value]).ok();
    }
}

/// The printed JSON result of a successful `lumio run`.
#[track_caller]
fn value(out: &Output) -> Value {
    serde_json::from_str(out.ok()).unwrap_or_else(|e| panic!("not JSON ({e}): {out:#?}"))
}

fn seed_actions_read_secrets_at_run_time(db: Backend) {
    let Some(seed) = Seed::start(db, |_| {}) else {
        return;
    };
    // Not set: the seed's own message, verbatim, and no request went out.
    let out = seed.run(&SEARCH);
    out.err(NOT_CONFIGURED);
    assert_eq!(
        out.stderr.lines().next().unwrap(),
        format!("error: {NOT_CONFIGURED}")
    );
    assert!(seed.api.seen().is_empty());

    seed.set("MY_API_KEY", "sk-canary-first");
    seed.api.expect_key("sk-canary-first");
    let out = seed.run(&SEARCH);
    let result = value(&out);
    assert_eq!(result["ok"], true, "{out:#?}");
    assert_eq!(result["path"], "/search");
    assert_eq!(result["received"], json!({"query": "x"}));
    let seen = seed.api.last();
    assert_eq!(seen.method, "POST");
    assert_eq!(
        seen.authorization.as_deref(),
        Some("Bearer sk-canary-first")
    );
    out.never_shows("sk-canary-first");

    // A changed secret is read by the very next run, with no redeploy.
    seed.set("MY_API_KEY", "sk-canary-second");
    seed.api.expect_key("sk-canary-second");
    assert_eq!(value(&seed.run(&SEARCH))["ok"], true);
    assert_eq!(
        seed.api.last().authorization.as_deref(),
        Some("Bearer sk-canary-second")
    );

    // The client plane needs no token.
    let anonymous = seed.server.anonymous_shell();
    let out = anonymous.run_in(seed.project.path(), &SEARCH, None);
    assert_eq!(value(&out)["ok"], true);

    seed.set("API_KEY", "api-canary-good");
    seed.api.expect_key("api-canary-good");
    let out = seed.run(&["run", "functions:goodAction", r#"{"query":"x"}"#]);
    assert_eq!(value(&out)["path"], "/q=x", "{out:#?}");
    assert_eq!(
        seed.api.last().authorization.as_deref(),
        Some("Bearer api-canary-good")
    );
    out.never_shows("api-canary-good");

    // --json: the server's whole answer, on success and on failure (still exit 1).
    seed.api.expect_key("sk-canary-second");
    let ok = seed.run(&[&SEARCH[..], &["--json"]].concat());
    assert_eq!(value(&ok)["value"]["ok"], true);
    let failed = seed.run(&[
        "run",
        "functions:callExternalApi",
        r#"{"query":5}"#,
        "--json",
    ]);
    assert!(!failed.status.success(), "{failed:#?}");
    let answer: Value = serde_json::from_str(&failed.stdout).unwrap();
    assert_eq!(answer["error"]["code"], "invalid_args", "{failed:#?}");

    let out = seed.run(&["run", "functions:callExternalApi", r#"{"query": 5}"#]);
    out.err("args.query");
    assert!(out.hint().unwrap().contains("validators"), "{out:#?}");
    let out = seed.run(&["run", "functions:nope"]);
    out.err("");
    assert!(out.hint().unwrap().contains("lumio deploy"), "{out:#?}");

    // JSON_ARGS is checked before anything is sent.
    let before = seed.api.seen().len();
    seed.run(&["run", "functions:callExternalApi", "{query: x}"])
        .err("JSON_ARGS is not valid JSON");
    seed.run(&["run", "functions:callExternalApi", r#"["x"]"#])
        .err("JSON object");
    seed.run(&["run", "callExternalApi"])
        .err("not an action name");
    assert_eq!(seed.api.seen().len(), before);
}

fn audit_and_logs_record_invocations(db: Backend) {
    let Some(seed) = Seed::start(db, |p| p.write("server/debug.ts", DEBUG_TS)) else {
        return;
    };
    seed.run(&SEARCH).err(NOT_CONFIGURED);
    seed.set("MY_API_KEY", "sk-canary-audit");
    seed.set("API_KEY", "api-canary-leak");
    assert_eq!(seed.run(&["run", "debug:logKey"]).ok(), "\"logged\"\n");

    // The seed's WRONG example: the caller learns which secret, never its value.
    for args in [
        &["run", "functions:badAction"][..],
        &["run", "functions:badAction", "--json"],
    ] {
        let out = seed.run(args);
        assert!(!out.status.success(), "{out:#?}");
        assert!(
            out.stderr.lines().next().unwrap().contains("API_KEY"),
            "{out:#?}"
        );
        out.never_shows("api-canary-leak");
    }

    let audit = seed.run(&["audit", "--json"]);
    audit.never_shows("canary");
    let audit: Value = serde_json::from_str(audit.ok()).unwrap();
    let entries = audit["entries"].as_array().unwrap();
    let has = |event: &str, secret: Option<&str>, outcome: Option<&str>| {
        entries.iter().any(|e| {
            e["event"] == event
                && secret.is_none_or(|s| e["secret"] == s)
                && outcome.is_none_or(|o| e["outcome"] == o)
        })
    };
    assert!(has("deploy", None, None), "{audit:#}");
    assert!(
        has("secret.get", Some("MY_API_KEY"), Some("not_set")),
        "{audit:#}"
    );
    assert!(
        has("secret.get", Some("MY_API_KEY"), Some("found")),
        "{audit:#}"
    );
    assert!(
        has("secret.get", Some("API_KEY"), Some("found")),
        "{audit:#}"
    );
    assert!(has("leak.blocked", None, None), "{audit:#}");
    let reads_by_action = entries
        .iter()
        .any(|e| e["event"] == "secret.get" && e["action"] == "debug:logKey");
    assert!(reads_by_action, "{audit:#}");
    seed.run(&["audit"]).never_shows("canary");

    let logs = seed.run(&["logs"]);
    let text = logs.ok();
    for expected in [
        "debug:logKey",
        "functions:badAction",
        "functions:callExternalApi",
    ] {
        assert!(text.contains(expected), "{logs:#?}");
    }
    let masked = text
        .lines()
        .find(|l| l.contains("using key"))
        .unwrap_or_else(|| panic!("no console line: {logs:#?}"));
    assert!(
        masked.starts_with("    ") && masked.contains("[REDACTED"),
        "{logs:#?}"
    );
    logs.never_shows("canary");

    let json: Value = serde_json::from_str(seed.run(&["logs", "--json"]).ok()).unwrap();
    let invocations = json["invocations"].as_array().unwrap();
    assert_eq!(
        invocations[0]["action"], "functions:badAction",
        "newest first: {json:#}"
    );
    assert_eq!(invocations[0]["outcome"], "secret_leak", "{json:#}");
    let server_log = seed.server.log();
    for value in ["sk-canary-audit", "api-canary-leak"] {
        assert!(!server_log.contains(value), "the server log shows {value}");
    }
    let one: Value =
        serde_json::from_str(seed.run(&["logs", "--limit", "1", "--json"]).ok()).unwrap();
    assert_eq!(one["invocations"].as_array().unwrap().len(), 1);
}

fn deploy_errors_keep_the_active_deployment(db: Backend) {
    let Some(seed) = Seed::start(db, |_| {}) else {
        return;
    };
    seed.set("MY_API_KEY", "sk-canary-deploy");
    seed.api.expect_key("sk-canary-deploy");
    let deploy = || seed.admin.run(&["deploy", seed.project.arg()], None);

    seed.project.write(
        "server/broken.ts",
        "// line 1\n// line 2\nexport const broken = 1 +;\n",
    );
    let out = deploy();
    out.err("server/broken.ts:3:");
    let position = out.stderr.lines().next().unwrap();
    let column = position.trim_start_matches("error: server/broken.ts:3:");
    assert!(
        column.split(':').next().unwrap().parse::<u32>().is_ok(),
        "no column: {out:#?}"
    );
    assert!(out.hint().unwrap().contains("unchanged"), "{out:#?}");
    assert_eq!(value(&seed.run(&SEARCH))["ok"], true, "old code still runs");
    seed.project.remove("server/broken.ts");

    seed.project.write(
        "server/imports.ts",
        "import { chunk } from \"lodash\";\nexport const size = chunk.length;\n",
    );
    deploy().err("lodash");
    seed.project.remove("server/imports.ts");

    // Local checks: nothing to upload.
    let bare = Project::empty();
    bare.write("lumio.json", &format!("{{\"extension\": \"{EXT}\"}}"));
    let bare_deploy = || seed.admin.run(&["deploy", bare.arg()], None);
    let out = bare_deploy();
    out.err("no server/ directory");
    assert!(out.hint().unwrap().contains("server/"), "{out:#?}");
    bare.write("server/types.d.ts", "export type A = string;\n");
    bare_deploy().err("no .ts files");
    bare.write("server/util.ts", "export const answer = 42;\n");
    bare_deploy().err("no actions");

    assert_eq!(value(&seed.run(&SEARCH))["ok"], true, "old code still runs");
    let again = deploy();
    assert!(
        again
            .ok()
            .starts_with("Deployed seed-example/staging version "),
        "{again:#?}"
    );
    let json: Value = serde_json::from_str(
        seed.admin
            .run(&["deploy", seed.project.arg(), "--json"], None)
            .ok(),
    )
    .unwrap();
    assert!(json["version"].as_u64().unwrap() >= 2, "{json:#}");
}

fn weather_example_deploys_and_runs(db: Backend) {
    let Some(server) = TestServer::start(db) else {
        return;
    };
    let admin = server.admin();
    admin.ok(&["extensions", "create", "weather"]);
    // The example as shipped, from its own directory.
    let shipped = admin.run_in(&example("weather"), &["deploy"], None);
    let line = shipped.ok();
    assert!(
        line.starts_with("Deployed weather/staging version 1: "),
        "{shipped:#?}"
    );
    assert!(
        line.contains("actions:current") && line.contains("actions:forecast"),
        "{shipped:#?}"
    );

    let api = FakeApi::start();
    let project = Project::from_example("weather");
    project.rewrite("https://api.weather.example", &api.url);
    admin.run(&["deploy", project.arg()], None).ok();
    let run = |args: &[&str]| admin.run_in(project.path(), args, None);
    let paris = r#"{"location": {"lat": 48.85, "lon": 2.35}}"#;
    run(&["run", "actions:current", paris])
        .err("WEATHER_API_KEY is not configured. Add it in the extension dashboard.");

    run(&["env", "set", "WEATHER_API_KEY", "wx-canary"]).ok();
    api.expect_key("wx-canary");
    let out = run(&["run", "actions:current", paris]);
    assert_eq!(
        value(&out),
        json!({"condition": "Sunny", "temperature": "21.5 °C"})
    );
    assert_eq!(api.last().path, "/v1/current?lat=48.85&lon=2.35");

    let out = run(&[
        "run",
        "actions:forecast",
        r#"{"location": {"lat": 1, "lon": 2}, "days": 2, "imperial": true}"#,
    ]);
    let days = value(&out)["days"].clone();
    assert_eq!(days.as_array().unwrap().len(), 2, "{out:#?}");
    assert_eq!(days[0]["high"], "77 °F");
    assert!(api.last().path.contains("days=2"));
    out.never_shows("wx-canary");

    run(&[
        "run",
        "actions:forecast",
        r#"{"location": {"lat": "north", "lon": 2}}"#,
    ])
    .err("lat");
}

/// `lumio deploy` lists what each action may read, and warns on stderr about a granted
/// name that is not set in the environment; a denied read fails the run with both names.
fn deploy_prints_grants_and_warns_about_unset_ones(db: Backend) {
    let Some(server) = TestServer::start(db) else {
        return;
    };
    let admin = server.admin();
    admin.ok(&["extensions", "create", "billing"]);
    let project = Project::empty();
    project.write("lumio.json", "{\"extension\": \"billing\"}");
    project.write(
        "server/functions.ts",
        r#"import { action, v } from "@zaflun/lumio-sdk/server";
export const charge = action({
  args: { name: v.string() },
  secrets: ["STRIPE_KEY", "STRIPE_ACCOUNT"],
  handler: async (ctx, args) => ctx.secrets.get(args.name) !== null,
});
export const report = action({
  args: {},
  handler: async (ctx) => ctx.secrets.get("MAIL_KEY") !== null,
});
"#,
    );
    let run = |args: &[&str]| admin.run_in(project.path(), args, None);
    run(&["env", "set", "STRIPE_KEY", "sk-canary-grants"]).ok();
    run(&["env", "set", "MAIL_KEY", "mail-canary-grants"]).ok();

    let out = run(&["deploy"]);
    let stdout = out.ok();
    let lines: Vec<String> = stdout
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert!(
        lines[0].starts_with("Deployed billing/staging version 1: "),
        "{out:#?}"
    );
    assert_eq!(
        lines[1..],
        [
            "functions:charge secrets: STRIPE_KEY, STRIPE_ACCOUNT",
            "functions:report all secrets",
        ],
        "{out:#?}"
    );
    assert!(
        stdout.contains("functions:charge  secrets: STRIPE_KEY"),
        "{out:#?}"
    );
    let warnings: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(warnings.len(), 1, "{out:#?}");
    assert!(
        warnings[0].starts_with("warning: functions:charge is granted STRIPE_ACCOUNT, which is not set in billing/staging"),
        "{out:#?}"
    );
    // --json keeps the server's answer on stdout and the warning on stderr.
    let json_out = run(&["deploy", "--json"]);
    let answer: Value = serde_json::from_str(json_out.ok()).unwrap();
    assert_eq!(answer["grants"][0]["missing"], json!(["STRIPE_ACCOUNT"]));
    assert!(json_out.stderr.contains("STRIPE_ACCOUNT"), "{json_out:#?}");

    // Set it: no warning any more.
    run(&["env", "set", "STRIPE_ACCOUNT", "acct-canary-grants"]).ok();
    let out = run(&["deploy"]);
    out.ok();
    assert!(out.stderr.is_empty(), "{out:#?}");

    assert_eq!(
        value(&run(&[
            "run",
            "functions:charge",
            r#"{"name":"STRIPE_KEY"}"#
        ])),
        json!(true)
    );
    let denied = run(&["run", "functions:charge", r#"{"name":"MAIL_KEY"}"#]);
    denied.err("MAIL_KEY");
    assert!(
        denied
            .stderr
            .contains("may read only STRIPE_KEY, STRIPE_ACCOUNT"),
        "{denied:#?}"
    );
    assert_eq!(value(&run(&["run", "functions:report", "{}"])), json!(true));
    denied.never_shows("canary-grants");
}

/// `examples/seed` holds the seed's code verbatim: the same lines as the SDK's copy of it
/// (`sdk/test/seed.ts`, type-checked there), indentation and blank lines aside.
#[test]
fn seed_example_is_the_seed_verbatim() {
    let lines = |text: &str| -> Vec<String> {
        text.lines()
            .map(|l| l.trim().to_owned())
            .filter(|l| !l.is_empty())
            .collect()
    };
    let example = std::fs::read_to_string(example("seed").join("server/functions.ts")).unwrap();
    let sdk_copy = concat!(env!("CARGO_MANIFEST_DIR"), "/../../sdk/test/seed.ts");
    let seed = std::fs::read_to_string(sdk_copy).unwrap();
    // The SDK's copy starts with a line of its own saying where it comes from.
    assert_eq!(lines(&example), lines(&seed)[1..]);
}
