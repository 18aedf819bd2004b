//! Issue 27: `GET …/logs` from the store every server writes to. A follower holding a
//! request open with `after` and `wait` gets an invocation made after it asked (through
//! its own server, and on PostgreSQL through another one), with the names it read and
//! its masked console output, never the value.

use std::time::{Duration, Instant};

use crate::common::on_each_backend;
use crate::common::{spawn_app, spawn_second, Backend, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

on_each_backend!(
    a_waiting_follower_gets_an_invocation_made_after_it_asked,
    bad_cursors_and_waits_are_refused,
);

const CODE: &str = r#"import { action } from "@zaflun/lumio-sdk/server";
export const useKey = action({
  args: {},
  handler: async (ctx) => {
    const key = ctx.secrets.get("LOG_KEY");
    ctx.secrets.get("NOT_THERE");
    console.log(`calling with ${key}`);
    return "done";
  },
});
"#;

const PLANTED: &str = "sk-logs-canary-7f3a9c1e";

fn logs_path(query: &str) -> String {
    format!("/api/v1/extensions/logged/environments/staging/logs?{query}")
}

async fn logs(app: &TestApp, query: &str) -> Value {
    let answer = app
        .call(Method::GET, &logs_path(query), &app.admin_token, None)
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert!(!answer.text.contains(PLANTED), "{}", answer.text);
    answer.body
}

async fn prepare(app: &TestApp) {
    app.create_extension("logged").await;
    let deployed = app
        .call(
            Method::POST,
            "/api/v1/extensions/logged/environments/staging/deployments",
            &app.admin_token,
            Some(json!({"files": {"server/keys.ts": CODE}})),
        )
        .await;
    assert_eq!(deployed.status, StatusCode::CREATED, "{}", deployed.text);
    app.set(&app.admin_token, "logged", "staging", "LOG_KEY", PLANTED)
        .await;
}

async fn invoke(app: &TestApp) {
    let answer = app
        .api(
            Method::POST,
            "/api/v1/extensions/logged/environments/staging/actions/keys:useKey",
            None,
            Some(json!({"args": {}})),
        )
        .await;
    assert_eq!(answer.body["value"], "done", "{}", answer.text);
}

/// Starts a follow request after `cursor` and, once it is surely waiting, invokes through
/// `caller`; returns the answer and how long the request took.
async fn follow_while_invoking(
    follower: &TestApp,
    caller: &TestApp,
    cursor: &str,
) -> (Value, Duration) {
    let started = Instant::now();
    let path = logs_path(&format!("after={cursor}&wait=20"));
    let request = follower
        .request(Method::GET, &path, Some(&follower.admin_token))
        .send();
    let waiting = tokio::spawn(request);
    tokio::time::sleep(Duration::from_millis(400)).await;
    invoke(caller).await;
    let response = waiting.await.unwrap().expect("follow request");
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    assert!(!text.contains(PLANTED), "{text}");
    (serde_json::from_str(&text).unwrap(), started.elapsed())
}

fn check_invocation(answer: &Value) {
    let invocations = answer["invocations"].as_array().unwrap();
    assert_eq!(invocations.len(), 1, "{answer:#}");
    let invocation = &invocations[0];
    assert_eq!(invocation["action"], "keys:useKey");
    assert_eq!(invocation["outcome"], "ok");
    assert!(invocation["id"].as_str().is_some_and(|id| !id.is_empty()));
    assert_eq!(
        invocation["reads"],
        json!([{"name": "LOG_KEY", "outcome": "found"},
               {"name": "NOT_THERE", "outcome": "not set"}]),
        "{answer:#}"
    );
    assert_eq!(
        invocation["console"][0]["text"], "calling with [REDACTED:LOG_KEY]",
        "{answer:#}"
    );
}

async fn a_waiting_follower_gets_an_invocation_made_after_it_asked(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    prepare(&app).await;
    invoke(&app).await;
    let newest = logs(&app, "").await;
    assert_eq!(
        newest["invocations"].as_array().unwrap().len(),
        1,
        "{newest:#}"
    );
    let cursor = newest["cursor"].as_str().unwrap().to_owned();

    // Nothing after the cursor: a short wait answers empty, with a cursor to go on from.
    let empty = logs(&app, &format!("after={cursor}&wait=1")).await;
    assert_eq!(empty["invocations"], json!([]), "{empty:#}");
    let cursor = empty["cursor"].as_str().unwrap().to_owned();

    // Woken by its own server's writer, long before the wait is over.
    let (answer, took) = follow_while_invoking(&app, &app, &cursor).await;
    check_invocation(&answer);
    assert!(took < Duration::from_secs(5), "{took:?}");
    let cursor = answer["cursor"].as_str().unwrap().to_owned();

    if backend == Backend::Postgres {
        // Through another server on the database: found by the follower's poll.
        let other = spawn_second(&app).await;
        let (answer, took) = follow_while_invoking(&app, &other, &cursor).await;
        check_invocation(&answer);
        assert!(took < Duration::from_secs(5), "{took:?}");
        let again = logs(
            &app,
            &format!("after={}", answer["cursor"].as_str().unwrap()),
        )
        .await;
        assert_eq!(again["invocations"], json!([]), "read once: {again:#}");
    }

    let filtered = logs(&app, "action=keys:other").await;
    assert_eq!(filtered["invocations"], json!([]), "{filtered:#}");
    let since = logs(&app, "since=2000-01-01T00:00:00Z&limit=200").await;
    assert!(!since["invocations"].as_array().unwrap().is_empty());
}

async fn bad_cursors_and_waits_are_refused(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.create_extension("logged").await;
    for (query, says) in [
        ("after=yesterday", "not a cursor this server gave"),
        ("after=0-0&wait=31", "wait is at most 30 seconds"),
        ("since=last-week", ""),
    ] {
        let answer = app
            .call(Method::GET, &logs_path(query), &app.admin_token, None)
            .await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{query}: {}",
            answer.text
        );
        assert!(answer.text.contains(says), "{query}: {}", answer.text);
    }
}
