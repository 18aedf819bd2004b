//! Actions end to end through the real server: deploy the seed's code, call it as a client
//! would, with a real HTTP API on loopback; every read audited; fail closed when the audit
//! log cannot be written; isolation between extensions and environments.

use crate::common::on_each_backend;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::common;
use crate::common::{spawn_app, Backend, TestApp};
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

on_each_backend!(
    seed_functions_run_as_written,
    every_get_is_audited_and_isolated,
    audit_store_down_fails_closed,
    a_bad_deploy_keeps_the_active_one,
    a_flood_of_reads_is_one_record_and_the_client_plane_is_rate_limited,
    grants_limit_an_action_to_its_declared_secrets,
    a_bad_grant_is_a_deploy_error,
);

/// The seed's three functions, verbatim except the API's address.
fn seed_source(api: &str) -> String {
    include_str!("../../../../examples/seed/server/functions.ts")
        .replace("https://api.example.com", api)
}

/// A stand-in for the external API: checks the bearer token, counts calls.
struct FakeApi {
    url: String,
    calls: Arc<AtomicUsize>,
    bearers: Arc<Mutex<Vec<String>>>,
}

async fn fake_api() -> FakeApi {
    let calls = Arc::new(AtomicUsize::new(0));
    let bearers = Arc::new(Mutex::new(Vec::new()));
    let (c, b) = (calls.clone(), bearers.clone());
    let handler = move |headers: HeaderMap, body: String| {
        let (c, b) = (c.clone(), b.clone());
        async move {
            c.fetch_add(1, Ordering::SeqCst);
            let auth = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            b.lock().unwrap().push(auth);
            Json(json!({"results": ["first", "second"], "echo": body.len()}))
        }
    };
    let app = Router::new()
        .route("/search", post(handler.clone()))
        .fallback(axum::routing::any(handler));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    FakeApi {
        url,
        calls,
        bearers,
    }
}

async fn deploy(app: &TestApp, ext: &str, env: &str, files: Value) -> common::Answer {
    let path = format!("/api/v1/extensions/{ext}/environments/{env}/deployments");
    app.call(
        Method::POST,
        &path,
        &app.admin_token,
        Some(json!({"files": files})),
    )
    .await
}

async fn run(app: &TestApp, ext: &str, env: &str, action: &str, args: Value) -> common::Answer {
    let path = format!("/api/v1/extensions/{ext}/environments/{env}/actions/{action}");
    let response = app
        .request(Method::POST, &path, None)
        .json(&json!({"args": args}))
        .send()
        .await
        .unwrap();
    common::Answer::from(response).await
}

async fn audit(app: &TestApp, ext: &str, env: &str, event: &str) -> Vec<Value> {
    let path =
        format!("/api/v1/extensions/{ext}/environments/{env}/audit?event={event}&limit=1000");
    let answer = app.call(Method::GET, &path, &app.admin_token, None).await;
    answer.body["entries"].as_array().unwrap().clone()
}

async fn seed_functions_run_as_written(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let api = fake_api().await;
    let admin = &app.admin_token;
    app.create_extension("seed").await;
    let deployed = deploy(
        &app,
        "seed",
        "staging",
        json!({"server/functions.ts": seed_source(&api.url)}),
    )
    .await;
    assert_eq!(deployed.status, StatusCode::CREATED, "{}", deployed.text);

    let missing = run(
        &app,
        "seed",
        "staging",
        "functions:callExternalApi",
        json!({"query": "q"}),
    )
    .await;
    assert_eq!(
        missing.body["error"]["message"],
        "MY_API_KEY is not configured. Add it in the extension dashboard."
    );
    assert_eq!(api.calls.load(Ordering::SeqCst), 0);

    app.set(admin, "seed", "staging", "MY_API_KEY", "sk-abc123-seed-key")
        .await;
    let ok = run(
        &app,
        "seed",
        "staging",
        "functions:callExternalApi",
        json!({"query": "q"}),
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    assert_eq!(ok.body["value"]["results"][0], "first");
    assert_eq!(
        api.bearers.lock().unwrap().last().unwrap(),
        "Bearer sk-abc123-seed-key"
    );

    // Changed after deploy: the next run sees it, no redeploy.
    app.set(admin, "seed", "staging", "MY_API_KEY", "sk-abc123-rotated")
        .await;
    run(
        &app,
        "seed",
        "staging",
        "functions:callExternalApi",
        json!({"query": "q"}),
    )
    .await;
    assert_eq!(
        api.bearers.lock().unwrap().last().unwrap(),
        "Bearer sk-abc123-rotated"
    );

    app.set(
        admin,
        "seed",
        "staging",
        "API_KEY",
        "sk-api-key-leak-canary",
    )
    .await;
    let bad = run(&app, "seed", "staging", "functions:badAction", json!({})).await;
    assert_eq!(bad.body["error"]["code"], "secret_leak", "{}", bad.text);
    assert!(bad.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("API_KEY"));
    assert!(!bad.text.contains("sk-api-key-leak-canary"));
    let good = run(
        &app,
        "seed",
        "staging",
        "functions:goodAction",
        json!({"query": "q"}),
    )
    .await;
    assert_eq!(good.status, StatusCode::OK, "{}", good.text);

    let invalid = run(
        &app,
        "seed",
        "staging",
        "functions:callExternalApi",
        json!({"query": 5}),
    )
    .await;
    assert_eq!(invalid.status, StatusCode::BAD_REQUEST);
    assert!(invalid.text.contains("args.query"), "{}", invalid.text);

    let blocked = audit(&app, "seed", "staging", "leak.blocked").await;
    assert_eq!(blocked.len(), 1);
    assert_eq!(blocked[0]["secret"], "API_KEY");
    assert_eq!(blocked[0]["action"], "functions:badAction");
    assert_eq!(audit(&app, "seed", "staging", "deploy").await.len(), 1);
}

async fn every_get_is_audited_and_isolated(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let admin = &app.admin_token;
    app.create_extension("alpha").await;
    app.create_extension("beta").await;
    app.set(admin, "beta", "staging", "B_ONLY", "beta-secret-value")
        .await;
    app.set(
        admin,
        "alpha",
        "production",
        "PROD_ONLY",
        "prod-secret-value",
    )
    .await;
    let source = r#"
import { action, v } from "@zaflun/lumio-sdk/server";
export const peek = action({
  args: { name: v.string() },
  handler: async (ctx, args) => ({ found: ctx.secrets.get(args.name) !== null }),
});
"#;
    for env in ["staging", "production"] {
        let answer = deploy(&app, "alpha", env, json!({"server/probe.ts": source})).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
    }
    let peek = |env: &'static str, name: &'static str| {
        run(&app, "alpha", env, "probe:peek", json!({"name": name}))
    };
    assert_eq!(
        peek("staging", "B_ONLY").await.body["value"]["found"],
        false,
        "another extension's secret"
    );
    assert_eq!(
        peek("staging", "PROD_ONLY").await.body["value"]["found"],
        false,
        "production from staging"
    );
    assert_eq!(
        peek("production", "PROD_ONLY").await.body["value"]["found"],
        true
    );

    let staging = audit(&app, "alpha", "staging", "secret.get").await;
    let outcomes: Vec<(&str, &str)> = staging
        .iter()
        .map(|e| {
            (
                e["secret"].as_str().unwrap(),
                e["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        vec![("PROD_ONLY", "not_set"), ("B_ONLY", "not_set")]
    );
    assert!(staging
        .iter()
        .all(|e| e["action"] == "probe:peek" && e["request_id"].is_string()));
    let production = audit(&app, "alpha", "production", "secret.get").await;
    assert_eq!(production.len(), 1);
    assert_eq!(production[0]["outcome"], "found");
    assert!(
        audit(&app, "beta", "staging", "secret.get")
            .await
            .is_empty(),
        "beta's log holds nothing of alpha's"
    );
}

/// Makes every insert into the audit log fail, or lets them through again.
async fn audit_writable(app: &TestApp, backend: Backend, writable: bool) {
    let sql = match (backend, writable) {
        (Backend::Sqlite, false) => "CREATE TRIGGER audit_down BEFORE INSERT ON ext_audit_log BEGIN SELECT RAISE(FAIL, 'audit store down'); END",
        (Backend::Sqlite, true) => "DROP TRIGGER audit_down",
        (Backend::Postgres, false) => "ALTER TABLE ext_audit_log ADD CONSTRAINT audit_down CHECK (false) NOT VALID",
        (Backend::Postgres, true) => "ALTER TABLE ext_audit_log DROP CONSTRAINT audit_down",
    };
    let url = &app.database_url;
    match backend {
        Backend::Sqlite => {
            use sqlx::Connection;
            let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
            sqlx::query(sql).execute(&mut conn).await.unwrap();
        }
        Backend::Postgres => {
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
            sqlx::query(sql).execute(&mut conn).await.unwrap();
        }
    }
}

async fn audit_store_down_fails_closed(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let api = fake_api().await;
    let admin = &app.admin_token;
    app.create_extension("closed").await;
    app.set(
        admin,
        "closed",
        "staging",
        "MY_API_KEY",
        "sk-fail-closed-canary",
    )
    .await;
    let source = format!(
        "{}\nexport const noSecret = action({{ args: {{}}, handler: async () => ({{ ok: true }}) }});\n\
         export const returnsKey = action({{ args: {{}}, handler: async (ctx) => ({{ len: (ctx.secrets.get(\"MY_API_KEY\") ?? \"\").length }}) }});\n",
        seed_source(&api.url)
    );
    deploy(
        &app,
        "closed",
        "staging",
        json!({"server/functions.ts": source}),
    )
    .await;
    // Warm up: a read that is audited normally.
    let warm = run(
        &app,
        "closed",
        "staging",
        "functions:callExternalApi",
        json!({"query": "q"}),
    )
    .await;
    assert_eq!(warm.status, StatusCode::OK, "{}", warm.text);
    let calls_before = api.calls.load(Ordering::SeqCst);

    audit_writable(&app, backend, false).await;
    let fetch = run(
        &app,
        "closed",
        "staging",
        "functions:callExternalApi",
        json!({"query": "q"}),
    )
    .await;
    assert_eq!(
        fetch.body["error"]["code"], "audit_unavailable",
        "{}",
        fetch.text
    );
    assert!(!fetch.text.contains("sk-fail-closed-canary"));
    assert_eq!(
        api.calls.load(Ordering::SeqCst),
        calls_before,
        "nothing was fetched with the secret"
    );
    let value = run(&app, "closed", "staging", "functions:returnsKey", json!({})).await;
    assert_eq!(
        value.body["error"]["code"], "audit_unavailable",
        "{}",
        value.text
    );
    let free = run(&app, "closed", "staging", "functions:noSecret", json!({})).await;
    assert_eq!(
        free.status,
        StatusCode::OK,
        "actions that read no secret keep working: {}",
        free.text
    );
    assert_eq!(free.body["value"]["ok"], true);

    audit_writable(&app, backend, true).await;
    // The writer keeps the records it could not write and commits them once it can.
    let mut recovered = false;
    for _ in 0..50 {
        let answer = run(&app, "closed", "staging", "functions:returnsKey", json!({})).await;
        if answer.status == StatusCode::OK {
            recovered = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        recovered,
        "the action works again once the audit log is writable"
    );
    let gets = audit(&app, "closed", "staging", "secret.get").await;
    assert!(
        gets.len() >= 4,
        "the reads made while the log was down are recorded too: {}",
        gets.len()
    );
}

async fn a_bad_deploy_keeps_the_active_one(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.create_extension("deps").await;
    let good = r#"import { action } from "@zaflun/lumio-sdk/server";
export const hello = action({ args: {}, handler: async () => "hi" });
"#;
    assert_eq!(
        deploy(&app, "deps", "staging", json!({"server/hello.ts": good}))
            .await
            .status,
        StatusCode::CREATED
    );
    let broken = deploy(
        &app,
        "deps",
        "staging",
        json!({"server/hello.ts": "export const x = action({ args: {,\n"}),
    )
    .await;
    assert_eq!(broken.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(broken.body["error"]["code"], "deploy_error");
    assert!(
        broken.body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("server/hello.ts:1:"),
        "{}",
        broken.text
    );
    let import = deploy(
        &app,
        "deps",
        "staging",
        json!({"server/hello.ts": "import x from \"left-pad\";\n"}),
    )
    .await;
    assert!(import.text.contains("left-pad"), "{}", import.text);
    let none = deploy(
        &app,
        "deps",
        "staging",
        json!({"server/util.ts": "export const x = 1;\n"}),
    )
    .await;
    assert!(none.text.contains("no actions"), "{}", none.text);
    let still = run(&app, "deps", "staging", "hello:hello", json!({})).await;
    assert_eq!(still.body["value"], "hi");
    let path = "/api/v1/extensions/deps/environments/staging/deployments";
    let list = app.call(Method::GET, path, &app.admin_token, None).await;
    assert_eq!(list.body["deployments"].as_array().unwrap().len(), 1);
    let unknown = run(&app, "deps", "staging", "hello:nope", json!({})).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

/// Issue 10: one unauthenticated call that reads a secret 9,999 times used to write 9,999
/// audit rows. Now it is one record that says how many, and the client plane is limited
/// per extension (429 with `Retry-After`), other extensions unaffected.
async fn a_flood_of_reads_is_one_record_and_the_client_plane_is_rate_limited(backend: Backend) {
    let Some(app) = common::spawn_app_with(backend, |c| c.client_rate_limit = Some(3)).await else {
        return;
    };
    let admin = &app.admin_token;
    app.create_extension("flood").await;
    app.create_extension("calm").await;
    app.set(admin, "flood", "staging", "API_KEY", "sk-flood-value-0001")
        .await;
    let source = r#"
import { action } from "@zaflun/lumio-sdk/server";
export const spin = action({
  args: {},
  handler: async (ctx) => { let n = 0; for (let i = 0; i < 9999; i++) if (ctx.secrets.get("API_KEY")) n++; ctx.secrets.get("NOT_SET"); return n; },
});
"#;
    for ext in ["flood", "calm"] {
        let answer = deploy(&app, ext, "staging", json!({"server/f.ts": source})).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
    }
    let first = run(&app, "flood", "staging", "f:spin", json!({})).await;
    assert_eq!(first.body["value"], 9999, "{}", first.text);
    let records = audit(&app, "flood", "staging", "secret.get").await;
    assert_eq!(
        records.len(),
        2,
        "one record per secret and invocation: {records:?}"
    );
    let found = records.iter().find(|r| r["secret"] == "API_KEY").unwrap();
    assert_eq!(found["outcome"], "found");
    assert_eq!(found["detail"], "read 9999 times in this invocation");
    let missing = records.iter().find(|r| r["secret"] == "NOT_SET").unwrap();
    assert_eq!(missing["outcome"], "not_set");

    // The bucket holds 3 calls a second; the first took one.
    let mut limited = None;
    for _ in 0..6 {
        let answer = run(&app, "flood", "staging", "f:spin", json!({})).await;
        if answer.status == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(answer);
            break;
        }
    }
    let limited = limited.expect("the flood is limited");
    assert_eq!(
        limited.body["error"]["code"], "rate_limited",
        "{}",
        limited.text
    );
    let retry: u64 = limited.retry_after.as_deref().unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry), "Retry-After: {retry}");
    let calm = run(&app, "calm", "staging", "f:spin", json!({})).await;
    assert_eq!(
        calm.status,
        StatusCode::OK,
        "another extension is not limited: {}",
        calm.text
    );
}

/// Two actions in one deployment: `charge` may read `A` only, `open` declares nothing.
const GRANTS_SOURCE: &str = r#"
import { action, v } from "@zaflun/lumio-sdk/server";
export const charge = action({
  args: { name: v.string() },
  secrets: ["A", "UNSET_KEY"],
  handler: async (ctx, args) => ({ found: ctx.secrets.get(args.name) !== null }),
});
export const sneaky = action({
  args: {},
  secrets: ["A"],
  handler: async (ctx) => {
    // Hostile: the SDK object is frozen, and the grants live in Rust anyway.
    try { (sneaky as any).secrets.push("B"); } catch {}
    try { Object.defineProperty(sneaky, "secrets", { value: ["A", "B"] }); } catch {}
    const get = ctx.secrets.get;
    return Reflect.apply(get, {}, ["B"]);
  },
});
export const open = action({
  args: {},
  handler: async (ctx) => ({ a: ctx.secrets.get("A") !== null, b: ctx.secrets.get("B") !== null }),
});
"#;

/// The audit entries of `event`, waiting up to two seconds for `n` of them (records that
/// follow no value read are not waited for by the invocation).
async fn audit_wait(app: &TestApp, ext: &str, env: &str, event: &str, n: usize) -> Vec<Value> {
    for _ in 0..40 {
        let entries = audit(app, ext, env, event).await;
        if entries.len() >= n {
            return entries;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    audit(app, ext, env, event).await
}

async fn grants_limit_an_action_to_its_declared_secrets(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let admin = &app.admin_token;
    app.create_extension("granted").await;
    app.set(admin, "granted", "staging", "A", "grant-canary-a-5d2e")
        .await;
    app.set(admin, "granted", "staging", "B", "grant-canary-b-91fa")
        .await;
    let answer = deploy(
        &app,
        "granted",
        "staging",
        json!({"server/functions.ts": GRANTS_SOURCE}),
    )
    .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
    assert_eq!(
        answer.body["grants"],
        json!([
            {"action": "functions:charge", "secrets": ["A", "UNSET_KEY"], "missing": ["UNSET_KEY"]},
            {"action": "functions:open", "secrets": null, "missing": []},
            {"action": "functions:sneaky", "secrets": ["A"], "missing": []},
        ])
    );

    let a = run(
        &app,
        "granted",
        "staging",
        "functions:charge",
        json!({"name": "A"}),
    )
    .await;
    assert_eq!(a.body["value"]["found"], true, "{}", a.text);

    let b = run(
        &app,
        "granted",
        "staging",
        "functions:charge",
        json!({"name": "B"}),
    )
    .await;
    assert_eq!(b.body["error"]["code"], "action_error", "{}", b.text);
    let message = b.body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("\"B\"") && message.contains("may read only A, UNSET_KEY"),
        "{message}"
    );
    let sneaky = run(&app, "granted", "staging", "functions:sneaky", json!({})).await;
    let message = sneaky.body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("was denied"), "{}", sneaky.text);

    let open = run(&app, "granted", "staging", "functions:open", json!({})).await;
    assert_eq!(
        open.body["value"],
        json!({"a": true, "b": true}),
        "{}",
        open.text
    );

    let denied = audit_wait(&app, "granted", "staging", "secret.denied", 2).await;
    let mut seen: Vec<(&str, &str, &str)> = denied
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["secret"].as_str().unwrap(),
                e["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            ("functions:charge", "B", "denied"),
            ("functions:sneaky", "B", "denied"),
        ]
    );
    assert!(denied.iter().all(|e| e["request_id"].is_string()));
    // B was read only by the action without grants.
    let gets = audit(&app, "granted", "staging", "secret.get").await;
    let b_reads: Vec<&Value> = gets.iter().filter(|e| e["secret"] == "B").collect();
    assert_eq!(b_reads.len(), 1);
    assert_eq!(b_reads[0]["action"], "functions:open");
    // No value anywhere in what the API said.
    for text in [&answer.text, &b.text, &sneaky.text, &open.text] {
        assert!(!text.contains("grant-canary"), "{text}");
    }
    let log = audit(&app, "granted", "staging", "secret.denied").await;
    assert!(!serde_json::to_string(&log)
        .unwrap()
        .contains("grant-canary"));
    // The OpenAPI document describes the new field.
    let doc = app.openapi().await;
    let schemas = &doc.body["components"]["schemas"];
    assert!(
        schemas["GrantsView"]["properties"]["missing"].is_object(),
        "{}",
        doc.text
    );
    assert!(schemas["DeploymentView"]["properties"]["grants"].is_object());
}

async fn a_bad_grant_is_a_deploy_error(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.create_extension("badgrant").await;
    let source = r#"
import { action } from "@zaflun/lumio-sdk/server";
export const charge = action({ args: {}, secrets: ["STRIPE KEY"], handler: async () => 1 });
"#;
    let answer = deploy(
        &app,
        "badgrant",
        "staging",
        json!({"server/functions.ts": source}),
    )
    .await;
    assert_eq!(
        answer.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        answer.text
    );
    assert_eq!(answer.code(), "deploy_error");
    let message = answer.body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("functions:charge") && message.contains("\"STRIPE KEY\""),
        "{message}"
    );
}
