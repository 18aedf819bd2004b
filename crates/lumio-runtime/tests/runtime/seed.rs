//! The seed's three functions (shared/seed/secrets.md), verbatim, from the SDK's test file.

use std::sync::atomic::Ordering;

use lumio_runtime::ErrorCode;
use serde_json::json;

use crate::common::*;

const SEED: &str = include_str!("../../../../sdk/test/seed.ts");

#[tokio::test(flavor = "multi_thread")]
async fn seed_call_external_api_sends_the_key_and_returns_the_api_result() {
    let (rt, seen) = seed_api("sk-abc123-live", limits()).await;
    let dep = deploy(SEED);
    let names: Vec<&str> = dep.action_names().collect();
    assert_eq!(
        names,
        [
            "functions:badAction",
            "functions:callExternalApi",
            "functions:goodAction"
        ]
    );
    let host = TestHost::with(&[("MY_API_KEY", "sk-abc123-live")]);
    let inv = run(
        &rt,
        &dep,
        "functions:callExternalApi",
        json!({ "query": "espn" }),
        &host,
    )
    .await;
    assert_eq!(
        inv.result.unwrap(),
        json!({ "results": ["a", "b"], "query": "espn" })
    );
    assert_eq!(
        *seen.authorizations.lock().unwrap(),
        ["Bearer sk-abc123-live"]
    );
    // The read was made durable before the key left in the request.
    assert_eq!(host.durable.load(Ordering::SeqCst), 1);
    assert_eq!(
        *host.reads.lock().unwrap(),
        [("MY_API_KEY".to_owned(), true)]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn seed_missing_secret_gives_the_helpful_error_verbatim() {
    let (rt, seen) = seed_api("unused", limits()).await;
    let dep = deploy(SEED);
    let host = TestHost::with(&[]);
    let inv = run(
        &rt,
        &dep,
        "functions:callExternalApi",
        json!({ "query": "x" }),
        &host,
    )
    .await;
    let err = inv.result.unwrap_err();
    assert_eq!(err.code, ErrorCode::ActionError);
    assert_eq!(
        err.message,
        "MY_API_KEY is not configured. Add it in the extension dashboard."
    );
    let stack = inv.stack.expect("the server log gets the stack");
    assert!(
        stack.contains("server/functions.ts:10:"),
        "TypeScript line expected: {stack}"
    );
    assert_eq!(seen.requests.load(Ordering::SeqCst), 0);
    // A secret that was not set is recorded, and nothing waited for it.
    assert_eq!(
        *host.reads.lock().unwrap(),
        [("MY_API_KEY".to_owned(), false)]
    );
    assert_eq!(host.durable_calls.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn seed_good_action_passes_and_bad_action_is_stopped() {
    let (rt, seen) = seed_api("sk-good-key-42", limits()).await;
    let dep = deploy(SEED);
    let host = TestHost::with(&[("API_KEY", "sk-good-key-42")]);
    let good = run(
        &rt,
        &dep,
        "functions:goodAction",
        json!({ "query": "scores" }),
        &host,
    )
    .await;
    assert_eq!(good.result.unwrap(), json!({ "path": "q=scores" }));
    assert_eq!(seen.requests.load(Ordering::SeqCst), 1);

    let bad = run(&rt, &dep, "functions:badAction", json!({}), &host).await;
    assert!(!format!("{bad:?}").contains("sk-good-key-42"));
    let err = bad.result.unwrap_err();
    assert_eq!(err.code, ErrorCode::SecretLeak);
    assert_eq!(
        err.message,
        "the action's return value contains the value of secret API_KEY; return the API's result, not the key"
    );
    assert_eq!(
        bad.leak_blocked
            .iter()
            .map(|n| n.as_str())
            .collect::<Vec<_>>(),
        ["API_KEY"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_secret_is_seen_by_the_next_invocation() {
    let rt = runtime(limits());
    let dep = deploy(&action_src(
        "",
        "return ctx.secrets.get('TOKEN') === null ? 'unset' : ctx.secrets.get('TOKEN')!.length;",
    ));
    let host = TestHost::with(&[]);
    assert_eq!(
        run(&rt, &dep, "functions:test", json!({}), &host)
            .await
            .result
            .unwrap(),
        json!("unset")
    );
    host.set("TOKEN", "0123456789");
    assert_eq!(
        run(&rt, &dep, "functions:test", json!({}), &host)
            .await
            .result
            .unwrap(),
        json!(10)
    );
}
