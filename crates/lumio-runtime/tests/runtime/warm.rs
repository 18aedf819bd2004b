//! Warm contexts: a deployment's module state survives from one invocation to the next
//! on a worker (documented in docs/security.md), and what must hold whatever survives:
//! no other extension or deployment sees it, a value cached in a global is still stopped
//! by the leak guard and the egress checks, every read goes to the store (a changed
//! secret is the new value) and is recorded for the invocation that made it, and the
//! limits still end an invocation (its context is not reused).
//!
//! One worker, so that consecutive invocations meet the same context.

use std::sync::Arc;

use lumio_runtime::{ErrorCode, Runtime, RuntimeOptions};
use serde_json::json;

use crate::common::*;

const KEY: &str = "sk-warm-cached-0123456789";

const CACHING: &str = r#"
import { action, v } from "@zaflun/lumio-sdk/server";
let cached: string | null = null;
let calls = 0;
export const read = action({ args: {}, handler: async (ctx: any) => {
  calls++;
  cached = ctx.secrets.get("API_KEY");
  return calls;
} });
export const leak = action({ args: {}, handler: async () => cached });
export const log = action({ args: {}, handler: async () => { console.log("cached: " + cached); return "ok"; } });
export const send = action({ args: { url: v.string() }, handler: async (ctx: any, args: any) => {
  const res = await ctx.fetch(args.url, { headers: { Authorization: "Bearer " + cached } });
  return res.status;
} });
export const peek = action({ args: {}, handler: async () => [typeof (globalThis as any).mark, calls] });
export const mark = action({ args: {}, handler: async () => { (globalThis as any).mark = "x"; calls++; return calls; } });
export const length = action({ args: {}, handler: async (ctx: any) => {
  calls++;
  const value = ctx.secrets.get("API_KEY");
  return value === null ? null : value.length;
} });
export const keep = action({ args: {}, handler: async (ctx: any) => { (globalThis as any).kept = ctx.secrets.get; return "kept"; } });
export const narrow = action({ args: {}, secrets: ["OTHER"], handler: async () => {
  try { return (globalThis as any).kept("API_KEY").length; } catch (e: any) { return e.code; }
} });
export const wide = action({ args: {}, handler: async () => (globalThis as any).kept("API_KEY").length });
export const spin = action({ args: { how: v.string() }, handler: async (_ctx: any, args: any) => {
  calls++;
  if (args.how === "cpu") { while (true) {} }
  if (args.how === "memory") { const all = []; while (true) all.push(new Array(1e5).fill(calls)); }
  if (args.how === "stack") { const f = (n: number): number => f(n + 1) + 1; return f(0); }
  return calls;
} });
"#;

fn one_worker() -> Runtime {
    Runtime::with_options(RuntimeOptions {
        limits: limits(),
        workers: 1,
        ..RuntimeOptions::default()
    })
    .unwrap()
}

async fn call(
    rt: &Runtime,
    tenant: &str,
    dep: &Arc<lumio_runtime::Deployment>,
    action: &str,
    host: &Arc<TestHost>,
) -> lumio_runtime::Invocation {
    let action = format!("functions:{action}");
    run_as(rt, tenant, dep, &action, json!({}), host).await
}

/// `send`: the cached value in a request to 127.0.0.1:9, where nothing listens.
async fn send_to_loopback(
    rt: &Runtime,
    dep: &Arc<lumio_runtime::Deployment>,
    host: &Arc<TestHost>,
) -> lumio_runtime::Invocation {
    let args = json!({ "url": "http://127.0.0.1:9/x" });
    run_as(rt, "a", dep, "functions:send", args, host).await
}

#[tokio::test(flavor = "multi_thread")]
async fn module_state_survives_within_one_deployment_and_nowhere_else() {
    let rt = one_worker();
    let host = TestHost::with(&[("API_KEY", KEY)]);
    let dep = deploy(CACHING);
    assert_eq!(
        call(&rt, "a", &dep, "mark", &host).await.result.unwrap(),
        json!(1)
    );
    assert_eq!(
        call(&rt, "a", &dep, "mark", &host).await.result.unwrap(),
        json!(2)
    );
    assert_eq!(
        call(&rt, "a", &dep, "peek", &host).await.result.unwrap(),
        json!(["string", 2]),
        "the deployment's own globals survive on a warm context (documented)"
    );
    // The very same compiled deployment run for another extension shares nothing.
    assert_eq!(
        call(&rt, "b", &dep, "peek", &host).await.result.unwrap(),
        json!(["undefined", 0])
    );
    // Nor does another deployment (a redeploy) of the same extension.
    let redeployed = deploy(CACHING);
    assert_eq!(
        call(&rt, "a", &redeployed, "peek", &host)
            .await
            .result
            .unwrap(),
        json!(["undefined", 0])
    );
    // The first extension's context is still its own.
    assert_eq!(
        call(&rt, "a", &dep, "peek", &host).await.result.unwrap(),
        json!(["string", 2])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_value_cached_in_a_global_is_stopped_in_a_later_invocation() {
    let rt = one_worker();
    let host = TestHost::with(&[]);
    host.set_bound("API_KEY", KEY, &["*.allowed.test"]);
    let dep = deploy(CACHING);
    assert_eq!(
        call(&rt, "a", &dep, "read", &host).await.result.unwrap(),
        json!(1)
    );

    // Returned by an invocation that read nothing itself.
    let leak = call(&rt, "a", &dep, "leak", &host).await;
    let err = leak.result.unwrap_err();
    assert_eq!(err.code, ErrorCode::SecretLeak, "{}", err.message);
    assert!(!err.message.contains(KEY));
    assert_eq!(leak.leak_blocked.len(), 1);
    assert_eq!(leak.leak_blocked[0].as_str(), "API_KEY");

    // Logged by one: masked.
    let log = call(&rt, "a", &dep, "log", &host).await;
    assert_eq!(log.result.unwrap(), json!("ok"));
    let text: String = log.console.iter().map(|l| l.text.clone()).collect();
    assert!(text.starts_with("cached: "), "{text}");
    assert!(!text.contains(KEY), "{text}");

    // Sent by one to a host its binding does not allow: refused, unsent, recorded.
    let send = send_to_loopback(&rt, &dep, &host).await;
    let err = send.result.unwrap_err();
    assert_eq!(err.code, ErrorCode::FetchRefused, "{}", err.message);
    assert!(!err.message.contains(KEY));
    let blocked = host.egress_blocked.lock().unwrap().clone();
    assert_eq!(blocked, [("API_KEY".to_owned(), "127.0.0.1".to_owned())]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_secret_changed_between_invocations_of_a_warm_context_is_the_new_value() {
    let rt = one_worker();
    let host = TestHost::with(&[("API_KEY", "sk-first-0001")]);
    let dep = deploy(CACHING);
    assert_eq!(
        call(&rt, "a", &dep, "length", &host).await.result.unwrap(),
        json!(13)
    );
    host.set("API_KEY", "sk-second-value-000002");
    assert_eq!(
        call(&rt, "a", &dep, "length", &host).await.result.unwrap(),
        json!(22)
    );
    host.secrets_remove("API_KEY");
    assert_eq!(
        call(&rt, "a", &dep, "length", &host).await.result.unwrap(),
        json!(null)
    );
    // One context all along (the counter went on), and every get went to the store and
    // was recorded.
    assert_eq!(
        call(&rt, "a", &dep, "peek", &host).await.result.unwrap(),
        json!(["undefined", 3])
    );
    assert_eq!(host.reads.lock().unwrap().len(), 3);
    let recorded: u32 = host.recorded.lock().unwrap().iter().map(|r| r.count).sum();
    assert_eq!(recorded, 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_kept_ctx_function_acts_for_the_invocation_that_calls_it() {
    let rt = one_worker();
    let host = TestHost::with(&[("API_KEY", KEY)]);
    let dep = deploy(CACHING);
    assert_eq!(
        call(&rt, "a", &dep, "keep", &host).await.result.unwrap(),
        json!("kept")
    );
    // Called by an action granted only OTHER: refused under that action's grants.
    let narrow = call(&rt, "a", &dep, "narrow", &host).await;
    assert_eq!(narrow.result.unwrap(), json!("secret_denied"));
    let denied = host.denied.lock().unwrap().clone();
    assert_eq!(denied, [("API_KEY".to_owned(), vec!["OTHER".to_owned()])]);
    // Called by an action without grants: read, and recorded for that invocation.
    let wide = call(&rt, "a", &dep, "wide", &host).await;
    assert_eq!(wide.result.unwrap(), json!(KEY.len()));
    assert_eq!(wide.secret_gets, 1);
    assert_eq!(host.reads.lock().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn limits_still_end_an_invocation_and_its_context_is_not_reused() {
    let rt = one_worker();
    let host = TestHost::with(&[]);
    let dep = deploy(CACHING);
    for how in ["cpu", "memory", "stack"] {
        for n in 1..=3 {
            let ok = run_as(
                &rt,
                "a",
                &dep,
                "functions:spin",
                json!({ "how": "none" }),
                &host,
            )
            .await;
            assert_eq!(
                ok.result.unwrap(),
                json!(n),
                "{how}: a warm context counts on"
            );
        }
        let stopped = run_as(
            &rt,
            "a",
            &dep,
            "functions:spin",
            json!({ "how": how }),
            &host,
        )
        .await;
        let err = stopped.result.unwrap_err();
        let expected = match how {
            "cpu" => ErrorCode::Timeout,
            "memory" => ErrorCode::OutOfMemory,
            _ => ErrorCode::StackOverflow,
        };
        assert_eq!(err.code, expected, "{how}: {}", err.message);
        // The next invocation gets a fresh context: the counter starts again.
        let after = run_as(&rt, "a", &dep, "functions:peek", json!({}), &host).await;
        assert_eq!(after.result.unwrap(), json!(["undefined", 0]), "{how}");
    }
}

const SHARING: &str = r#"
import { action, v } from "@zaflun/lumio-sdk/server";
let started = 0;
export const park = action({ args: { ms: v.number(), spin: v.boolean() }, handler: async (ctx: any, args: any) => {
  const mine = ++started;
  ctx.secrets.get("API_KEY");
  console.log("invocation " + mine);
  await new Promise((resolve) => setTimeout(resolve, args.ms));
  if (args.spin) { while (true) {} }
  return mine;
} });
export const wait = action({ args: {}, handler: async () => {
  const gate = new Promise((resolve) => { (globalThis as any).open = resolve; });
  const late = new Promise((resolve) => setTimeout(() => resolve("timer"), 20000));
  return await Promise.race([gate, late]);
} });
export const open = action({ args: {}, handler: async () => { (globalThis as any).open("opened"); return "ok"; } });
export const count = action({ args: {}, handler: async () => started });
"#;

#[tokio::test(flavor = "multi_thread")]
async fn parked_invocations_share_one_context_and_keep_their_own_state() {
    let rt = Arc::new(one_worker());
    let host = TestHost::with(&[("API_KEY", KEY)]);
    let dep = deploy(SHARING);
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..50 {
        let (rt, dep, host) = (rt.clone(), dep.clone(), host.clone());
        tasks.spawn(async move {
            let args = json!({ "ms": 300 - n * 4, "spin": false });
            run_as(&rt, "a", &dep, "functions:park", args, &host).await
        });
    }
    let mut seen = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let inv = joined.unwrap();
        let mine = inv.result.unwrap().as_u64().unwrap();
        // Its console is its own, its read counted for it alone.
        let lines: Vec<&str> = inv.console.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(lines, [format!("invocation {mine}")]);
        assert_eq!(inv.secret_gets, 1);
        seen.push(mine);
    }
    seen.sort_unstable();
    // All 50 were in flight in one context: its module counter went 1..=50.
    assert_eq!(seen, (1..=50).collect::<Vec<u64>>());
    assert_eq!(host.reads.lock().unwrap().len(), 50);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_promise_settled_in_another_invocations_turn_ends_its_invocation_then() {
    let rt = Arc::new(one_worker());
    let host = TestHost::with(&[]);
    let dep = deploy(SHARING);
    let waiting = {
        let (rt, dep, host) = (rt.clone(), dep.clone(), host.clone());
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            let inv = run_as(&rt, "a", &dep, "functions:wait", json!({}), &host).await;
            (inv, started.elapsed())
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let open = run_as(&rt, "a", &dep, "functions:open", json!({}), &host).await;
    assert_eq!(open.result.unwrap(), json!("ok"));
    let (inv, took) = waiting.await.unwrap();
    assert_eq!(inv.result.unwrap(), json!("opened"));
    // Not at its 20 s timer: as soon as the other invocation's turn settled it.
    assert!(took < std::time::Duration::from_secs(10), "{took:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_limit_in_a_shared_context_ends_that_invocation_only() {
    let rt = Arc::new(one_worker());
    let host = TestHost::with(&[("API_KEY", KEY)]);
    let dep = deploy(SHARING);
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..6 {
        let (rt, dep, host) = (rt.clone(), dep.clone(), host.clone());
        tasks.spawn(async move {
            let args = json!({ "ms": 200 + n * 50, "spin": n == 0 });
            (
                n,
                run_as(&rt, "a", &dep, "functions:park", args, &host).await,
            )
        });
    }
    while let Some(joined) = tasks.join_next().await {
        let (n, inv) = joined.unwrap();
        if n == 0 {
            assert_eq!(inv.result.unwrap_err().code, ErrorCode::Timeout);
        } else {
            assert!(inv.result.is_ok(), "{n}: {:?}", inv.result);
        }
    }
    // The context that hit the limit takes no new work: the next call starts afresh.
    let next = run_as(&rt, "a", &dep, "functions:count", json!({}), &host).await;
    assert_eq!(next.result.unwrap(), json!(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_binding_changed_between_invocations_of_a_warm_context_holds_at_once() {
    let rt = one_worker();
    let host = TestHost::with(&[]);
    host.set_bound("API_KEY", KEY, &["*.allowed.test"]);
    let dep = deploy(CACHING);
    assert_eq!(
        call(&rt, "a", &dep, "read", &host).await.result.unwrap(),
        json!(1)
    );
    let refused = send_to_loopback(&rt, &dep, &host).await.result.unwrap_err();
    assert_eq!(refused.code, ErrorCode::FetchRefused, "{}", refused.message);
    // Bound to this host now: once read again, the request is let through (and fails
    // only because nothing listens there).
    host.set_bound("API_KEY", KEY, &["127.0.0.1"]);
    assert_eq!(
        call(&rt, "a", &dep, "read", &host).await.result.unwrap(),
        json!(2)
    );
    let sent = send_to_loopback(&rt, &dep, &host).await.result.unwrap_err();
    assert_eq!(sent.code, ErrorCode::FetchFailed, "{}", sent.message);
    // Unbound: anywhere again.
    host.set("API_KEY", KEY);
    assert_eq!(
        call(&rt, "a", &dep, "read", &host).await.result.unwrap(),
        json!(3)
    );
    let sent = send_to_loopback(&rt, &dep, &host).await.result.unwrap_err();
    assert_eq!(sent.code, ErrorCode::FetchFailed, "{}", sent.message);
}
