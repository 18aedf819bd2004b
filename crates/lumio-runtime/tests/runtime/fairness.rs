//! One extension cannot take the runtime from another: slots per extension and per
//! action, busy loops held to their extension's share of the workers, and invocations
//! whose caller left ended at once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use lumio_runtime::{ErrorCode, Invocation, Runtime, RuntimeOptions};
use serde_json::json;

use crate::common::*;

fn runtime_with(max_inflight: usize, per_extension: usize) -> Arc<Runtime> {
    Arc::new(
        Runtime::with_options(RuntimeOptions {
            // Busy loops end sooner than at the default second, so the test does too.
            limits: lumio_runtime::RuntimeLimits {
                cpu_time: Duration::from_millis(250),
                ..limits()
            },
            workers: 2,
            max_inflight,
            max_inflight_per_extension: per_extension,
            ..RuntimeOptions::default()
        })
        .unwrap(),
    )
}

async fn run_as(
    rt: &Runtime,
    tenant: &str,
    dep: &Arc<lumio_runtime::Deployment>,
    action: &str,
) -> Invocation {
    rt.invoke(tenant, dep.clone(), action, json!({}), TestHost::with(&[]))
        .await
}

fn actions() -> Arc<lumio_runtime::Deployment> {
    deploy(
        r#"import { action } from "@zaflun/lumio-sdk/server";
export const sleepy = action({ args: {}, handler: async () => { await new Promise((r) => setTimeout(r, 20000)); return 1; } });
export const nap = action({ args: {}, handler: async () => { await new Promise((r) => setTimeout(r, 20000)); return 1; } });
export const spin = action({ args: {}, handler: async () => { while (true) {} } });
export const quick = action({ args: {}, handler: async () => "quick" });
"#,
    )
}

/// Waits until `rt` has at most `n` invocations in flight, or fails after `within`.
async fn settles_to(rt: &Runtime, n: usize, within: Duration) {
    let deadline = Instant::now() + within;
    while rt.in_flight() > n {
        assert!(
            Instant::now() < deadline,
            "{} invocations still in flight",
            rt.in_flight()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_extension_at_its_share_is_refused_while_another_is_served() {
    let rt = runtime_with(64, 8);
    let dep = actions();
    let mut held = Vec::new();
    // Two actions, four slots each (half of the extension's eight): all eight taken.
    for action in ["functions:sleepy", "functions:nap"] {
        for _ in 0..4 {
            let (rt, dep) = (rt.clone(), dep.clone());
            held.push(tokio::spawn(async move {
                run_as(&rt, "hog", &dep, action).await
            }));
        }
    }
    while rt.in_flight() < 8 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let refused = run_as(&rt, "hog", &dep, "functions:quick").await;
    let err = refused.result.unwrap_err();
    assert_eq!(err.code, ErrorCode::Overloaded);
    assert!(err.message.contains("this extension"), "{}", err.message);
    let other = run_as(&rt, "victim", &dep, "functions:quick").await;
    assert_eq!(other.result.unwrap(), json!("quick"));
    for task in held {
        task.abort();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_action_holds_at_most_half_of_its_extensions_slots() {
    let rt = runtime_with(64, 8);
    let dep = actions();
    let mut held = Vec::new();
    for _ in 0..8 {
        let (rt, dep) = (rt.clone(), dep.clone());
        held.push(tokio::spawn(async move {
            run_as(&rt, "ext", &dep, "functions:sleepy").await
        }));
    }
    while rt.in_flight() < 4 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        rt.in_flight(),
        4,
        "one action beyond half of its extension's slots"
    );
    let quick = run_as(&rt, "ext", &dep, "functions:quick").await;
    assert_eq!(quick.result.unwrap(), json!("quick"));
    for task in held {
        task.abort();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invocation_whose_caller_left_is_ended_and_its_slot_freed() {
    let rt = runtime_with(64, 32);
    let dep = actions();
    let mut callers = Vec::new();
    for _ in 0..10 {
        let (rt, dep) = (rt.clone(), dep.clone());
        callers.push(tokio::spawn(async move {
            run_as(&rt, "ext", &dep, "functions:sleepy").await
        }));
    }
    while rt.in_flight() < 10 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // The callers go (an HTTP client disconnecting drops the request's future).
    for caller in callers {
        caller.abort();
    }
    // Their 20 s timers are dropped with them: the slots are free within a sweep.
    settles_to(&rt, 0, Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn busy_loops_of_one_extension_leave_a_worker_for_another() {
    let rt = runtime_with(64, 32);
    let dep = actions();
    let mut spinning = Vec::new();
    for _ in 0..8 {
        let (rt, dep) = (rt.clone(), dep.clone());
        spinning.push(tokio::spawn(async move {
            let mut stopped = 0;
            for _ in 0..3 {
                let inv = run_as(&rt, "hog", &dep, "functions:spin").await;
                stopped += usize::from(inv.result.unwrap_err().code == ErrorCode::Timeout);
            }
            stopped
        }));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Both workers were taken by busy loops when the victim came; from now on the hog
    // may hold one worker at a time while the victim waits, and an extra worker started.
    let mut slowest = Duration::ZERO;
    for _ in 0..30 {
        let started = Instant::now();
        let inv = run_as(&rt, "victim", &dep, "functions:quick").await;
        assert_eq!(inv.result.unwrap(), json!("quick"));
        slowest = slowest.max(started.elapsed());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("slowest victim call: {slowest:?}");
    // Without the cap a victim call waits behind the busy loops queued on its worker:
    // 250 ms of CPU each, a second or more.
    assert!(
        slowest < Duration::from_millis(750),
        "a victim call waited {slowest:?} behind busy loops"
    );
    let mut stopped = 0;
    for task in spinning {
        stopped += task.await.unwrap();
    }
    assert_eq!(stopped, 24, "every busy loop ends at its CPU limit");
}
