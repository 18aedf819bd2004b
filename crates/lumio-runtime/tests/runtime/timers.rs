//! `setTimeout`, `setInterval` and their `clear*`, on the same scheduler as fetches.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use lumio_runtime::{ErrorCode, RuntimeLimits};
use serde_json::json;

use crate::common::*;

async fn outcome(body: &str) -> lumio_runtime::Invocation {
    let rt = runtime(RuntimeLimits {
        wall_time: Duration::from_secs(2),
        ..limits()
    });
    let dep = deploy(&action_src("", body));
    run(&rt, &dep, "functions:test", json!({}), &TestHost::with(&[])).await
}

#[tokio::test(flavor = "multi_thread")]
async fn timers_fire_in_order_of_due_time_then_creation_with_microtasks_between() {
    let inv = outcome(
        "const seen: string[] = [];\nsetTimeout(() => seen.push('b'), 40);\nsetTimeout(() => { seen.push('a'); Promise.resolve().then(() => seen.push('a-micro')); }, 10);\nsetTimeout(() => seen.push('c'), 10);\nsetTimeout((x: string, y: string) => seen.push(x + y), 0, 'ar', 'gs');\nawait new Promise((r) => setTimeout(r, 80));\nreturn seen;",
    )
    .await;
    assert_eq!(
        inv.result.unwrap(),
        json!(["args", "a", "a-micro", "c", "b"])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn clear_timeout_and_clear_interval_stop_them() {
    let inv = outcome(
        "let fired = 0; let ticks = 0;\nconst t = setTimeout(() => fired++, 10);\nclearTimeout(t);\nawait new Promise<void>((done) => { const i = setInterval(() => { ticks++; if (ticks === 3) { clearInterval(i); done(); } }, 5); });\nawait new Promise((r) => setTimeout(r, 40));\nclearTimeout(9999); clearTimeout(undefined as any);\nreturn [fired, ticks, typeof t];",
    )
    .await;
    assert_eq!(inv.result.unwrap(), json!([0, 3, "number"]));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_timer_due_after_the_wall_limit_ends_the_invocation_at_once() {
    let started = Instant::now();
    let inv = outcome("await new Promise((r) => setTimeout(r, 60_000));\nreturn 'late';").await;
    let err = inv.result.unwrap_err();
    assert_eq!(err.code, ErrorCode::Timeout);
    assert!(err.message.contains("wall-time limit"), "{}", err.message);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "it need not wait for the limit"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_string_callback_is_refused_and_a_throwing_callback_ends_the_call() {
    let inv = outcome("try { setTimeout('globalThis.x = 1' as any, 0); } catch (e) { return (e as Error).message; }").await;
    assert_eq!(
        inv.result.unwrap(),
        json!("setTimeout takes a function to call; strings are not evaluated")
    );
    let inv = outcome(
        "setTimeout(() => { throw new Error('from a timer'); }, 5);\nawait new Promise(() => {});",
    )
    .await;
    let err = inv.result.unwrap_err();
    assert_eq!(err.code, ErrorCode::ActionError);
    assert_eq!(err.message, "from a timer");
}

/// The most common thing action authors write around `ctx.fetch`.
#[tokio::test(flavor = "multi_thread")]
async fn retry_with_backoff_around_fetch_works() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let app = Router::new().route(
        "/flaky",
        get(move || {
            let counter = counter.clone();
            async move {
                match counter.fetch_add(1, Ordering::SeqCst) {
                    0 | 1 => (StatusCode::SERVICE_UNAVAILABLE, "busy"),
                    _ => (StatusCode::OK, "finally"),
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let body = format!(
        "const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));\nfor (let attempt = 0; attempt < 5; attempt++) {{\n  const res = await ctx.fetch('http://{addr}/flaky');\n  if (res.ok) return [attempt, await res.text()];\n  await sleep(20 * 2 ** attempt);\n}}\nthrow new Error('gave up');"
    );
    let inv = outcome(&body).await;
    assert_eq!(inv.result.unwrap(), json!([2, "finally"]));
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}
