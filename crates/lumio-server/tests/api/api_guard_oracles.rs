//! The client plane cannot use the guards as oracles, through the real server on both
//! backends: a secret is the caller's own only when an argument is exactly it (not when
//! a batch of guesses holds it); repeated `secret_leak` answers to one client address are
//! rate limited; and refused reads write a bounded number of `secret.denied` records,
//! durable before the answer, per call and per client address.

use crate::common;
use crate::common::on_each_backend;
use crate::common::{spawn_app, Backend, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

on_each_backend!(
    a_batch_of_guesses_is_not_the_callers_own_value,
    repeated_leak_answers_to_one_client_are_rate_limited,
    refused_reads_write_a_bounded_number_of_records,
    refused_reads_from_one_address_are_rate_limited,
);

const PIN: &str = "482913";

const SOURCE: &str = r#"
import { action, v } from "@zaflun/lumio-sdk/server";
export const reveal = action({
  args: { guesses: v.string() },
  handler: async (ctx, args) => ({ pin: ctx.secrets.get("PIN"), tried: args.guesses.length }),
});
export const probe = action({
  args: {},
  secrets: ["PIN"],
  handler: async (ctx) => {
    const codes = {};
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 100; i++) {
        try { ctx.secrets.get("NAME_" + i); } catch (e) { codes[e.code] = (codes[e.code] ?? 0) + 1; }
      }
    }
    return codes;
  },
});
"#;

async fn app_with(backend: Backend, extensions: &[&str]) -> Option<TestApp> {
    let app = spawn_app(backend).await?;
    for ext in extensions {
        app.create_extension(ext).await;
        app.set(&app.admin_token, ext, "staging", "PIN", PIN).await;
        let path = format!("/api/v1/extensions/{ext}/environments/staging/deployments");
        let body = json!({"files": {"server/functions.ts": SOURCE}});
        let deployed = app
            .call(Method::POST, &path, &app.admin_token, Some(body))
            .await;
        assert_eq!(deployed.status, StatusCode::CREATED, "{}", deployed.text);
    }
    Some(app)
}

async fn call(app: &TestApp, ext: &str, action: &str, args: Value) -> common::Answer {
    let path = format!("/api/v1/extensions/{ext}/environments/staging/actions/{action}");
    let response = app
        .request(Method::POST, &path, None)
        .json(&json!({ "args": args }))
        .send()
        .await
        .unwrap();
    common::Answer::from(response).await
}

/// Every six-digit guess from `from`, `count` of them, in one string.
fn guesses(from: u32, count: u32) -> String {
    (from..from + count)
        .map(|n| format!("{n:06}"))
        .collect::<Vec<_>>()
        .join(" ")
}

async fn a_batch_of_guesses_is_not_the_callers_own_value(backend: Backend) {
    let Some(app) = app_with(backend, &["pins"]).await else {
        return;
    };
    // 35,000 guesses holding the PIN: the answer would hold it, so it is a leak.
    let batch = call(
        &app,
        "pins",
        "functions:reveal",
        json!({ "guesses": guesses(470_000, 35_000) }),
    )
    .await;
    assert_eq!(batch.body["error"]["code"], "secret_leak", "{}", batch.text);
    assert!(!batch.text.contains(PIN), "{}", batch.text);
    // The exact value as an argument is the caller's own: no leak to refuse.
    let exact = call(&app, "pins", "functions:reveal", json!({ "guesses": PIN })).await;
    assert_eq!(exact.status, StatusCode::OK, "{}", exact.text);
    assert_eq!(exact.body["value"]["pin"], PIN);
}

async fn repeated_leak_answers_to_one_client_are_rate_limited(backend: Backend) {
    let Some(app) = app_with(backend, &["oracle", "other"]).await else {
        return;
    };
    for i in 0..5 {
        let answer = call(
            &app,
            "oracle",
            "functions:reveal",
            json!({ "guesses": "x" }),
        )
        .await;
        assert_eq!(
            answer.body["error"]["code"], "secret_leak",
            "call {i}: {}",
            answer.text
        );
    }
    let limited = call(
        &app,
        "oracle",
        "functions:reveal",
        json!({ "guesses": "x" }),
    )
    .await;
    assert_limited_for_the_minute(&limited, "secret_leak");
    // Every action of that extension, for that address, for the rest of the minute.
    let probe = call(&app, "oracle", "functions:probe", json!({})).await;
    assert_eq!(
        probe.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        probe.text
    );
    // Another extension is not limited.
    let other = call(&app, "other", "functions:reveal", json!({ "guesses": PIN })).await;
    assert_eq!(other.status, StatusCode::OK, "{}", other.text);
    // The document lists the answer.
    let doc = app.openapi().await;
    let invoke = &doc.body["paths"]["/api/v1/extensions/{ext}/environments/{env}/actions/{action}"]
        ["post"]["responses"]["429"]["description"];
    assert!(
        invoke.as_str().unwrap_or_default().contains("secret_leak"),
        "{invoke}"
    );
}

async fn refused_reads_write_a_bounded_number_of_records(backend: Backend) {
    let Some(app) = app_with(backend, &["denials"]).await else {
        return;
    };
    let answer = call(&app, "denials", "functions:probe", json!({})).await;
    assert_eq!(
        answer.body["value"],
        json!({ "secret_denied": 16, "limit_exceeded": 284 }),
        "{}",
        answer.text
    );
    // Durable before the answer: read at once, no waiting.
    let path =
        "/api/v1/extensions/denials/environments/staging/audit?event=secret.denied&limit=1000";
    let log = app.call(Method::GET, path, &app.admin_token, None).await;
    let entries = log.body["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 17, "{}", log.text);
    let named: Vec<&Value> = entries.iter().filter(|e| e["secret"].is_string()).collect();
    assert_eq!(named.len(), 16);
    assert!(named
        .iter()
        .all(|e| e["detail"].as_str().unwrap().contains("asked for 3 times")));
    let further = entries.iter().find(|e| e["secret"].is_null()).unwrap();
    let detail = further["detail"].as_str().unwrap();
    assert!(detail.contains("84 further names"), "{detail}");
    assert!(!log.text.contains(PIN));
}

async fn refused_reads_from_one_address_are_rate_limited(backend: Backend) {
    let Some(app) = app_with(backend, &["flood", "other"]).await else {
        return;
    };
    // Each call writes 17 records: calls go through until 300 are written (the 18th
    // call passes at 289 and brings 306), then the address is refused.
    for i in 0..18 {
        let answer = call(&app, "flood", "functions:probe", json!({})).await;
        assert_eq!(answer.status, StatusCode::OK, "call {i}: {}", answer.text);
    }
    let limited = call(&app, "flood", "functions:probe", json!({})).await;
    assert_limited_for_the_minute(&limited, "refuse 300 secret reads");
    // The refused call wrote nothing.
    let path = "/api/v1/extensions/flood/environments/staging/audit?event=secret.denied&limit=1000";
    let log = app.call(Method::GET, path, &app.admin_token, None).await;
    assert_eq!(log.body["entries"].as_array().unwrap().len(), 18 * 17);
    // Every action of that extension is refused to that address; another extension is not.
    let reveal = call(&app, "flood", "functions:reveal", json!({ "guesses": PIN })).await;
    assert_eq!(
        reveal.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        reveal.text
    );
    let other = call(&app, "other", "functions:probe", json!({})).await;
    assert_eq!(other.status, StatusCode::OK, "{}", other.text);
}

/// A 429 `rate_limited` naming `reason`, for the rest of the minute.
fn assert_limited_for_the_minute(answer: &common::Answer, reason: &str) {
    assert_eq!(
        answer.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        answer.text
    );
    assert_eq!(answer.body["error"]["code"], "rate_limited");
    assert!(answer.text.contains(reason), "{}", answer.text);
    let retry: u64 = answer.retry_after.as_deref().unwrap().parse().unwrap();
    assert!((55..=60).contains(&retry), "Retry-After: {retry}");
}
