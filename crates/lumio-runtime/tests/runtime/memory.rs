//! The memory budget: what all invocations in flight may hold, per extension and per
//! server. Each test parks invocations on a timer while they hold a typed array.

use std::sync::Arc;
use std::time::{Duration, Instant};

use lumio_runtime::{ErrorCode, Invocation, Runtime, RuntimeOptions};
use serde_json::json;

use crate::common::*;

const MIB: usize = 1 << 20;

/// Holds `args.mib` MiB across a timer of `args.ms`, then answers its length in MiB.
fn holder() -> Arc<lumio_runtime::Deployment> {
    deploy(&action_src(
        "mib: v.number(), ms: v.number()",
        "const held = new Uint8Array(args.mib * 1024 * 1024);\nheld.fill(1);\nawait new Promise((resolve) => setTimeout(resolve, args.ms));\nreturn held.length / 1024 / 1024;",
    ))
}

fn budgeted(total: usize, per_extension: usize) -> Arc<Runtime> {
    Arc::new(
        Runtime::with_options(RuntimeOptions {
            limits: limits(),
            workers: 2,
            memory_budget_bytes: total,
            memory_per_extension_bytes: per_extension,
            ..RuntimeOptions::default()
        })
        .unwrap(),
    )
}

/// Starts `n` invocations of `tenant` holding `mib` MiB for `ms`.
fn hold(
    tasks: &mut tokio::task::JoinSet<(String, Invocation)>,
    rt: &Arc<Runtime>,
    tenant: &str,
    n: usize,
    mib: usize,
    ms: u64,
) {
    let (dep, host) = (holder(), TestHost::with(&[]));
    for _ in 0..n {
        let (rt, dep, host, tenant) = (rt.clone(), dep.clone(), host.clone(), tenant.to_owned());
        tasks.spawn(async move {
            let args = json!({ "mib": mib, "ms": ms });
            let inv = run_as(&rt, &tenant, &dep, "functions:test", args, &host).await;
            (tenant, inv)
        });
    }
}

/// Per tenant: how many succeeded, and the out-of-memory messages of the rest.
async fn outcomes(
    mut tasks: tokio::task::JoinSet<(String, Invocation)>,
) -> std::collections::BTreeMap<String, (usize, Vec<String>)> {
    let mut by_tenant = std::collections::BTreeMap::<String, (usize, Vec<String>)>::new();
    while let Some(joined) = tasks.join_next().await {
        let (tenant, inv) = joined.unwrap();
        let entry = by_tenant.entry(tenant).or_default();
        match inv.result {
            Ok(_) => entry.0 += 1,
            Err(err) => {
                assert_eq!(err.code, ErrorCode::OutOfMemory, "{}", err.message);
                entry.1.push(err.message);
            }
        }
    }
    by_tenant
}

/// The charges go back once the invocations end (their runtimes are freed or kept idle
/// just after the caller has its answer).
async fn settles_to_zero(rt: &Runtime, tenants: &[&str]) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while rt.memory_in_use() > 0 || tenants.iter().any(|t| rt.memory_in_use_by(t) > 0) {
        assert!(
            Instant::now() < deadline,
            "still charged: {} bytes",
            rt.memory_in_use()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn one_extension_hits_its_share_while_another_extension_still_runs() {
    let rt = budgeted(512 * MIB, 48 * MIB);
    let mut tasks = tokio::task::JoinSet::new();
    hold(&mut tasks, &rt, "greedy", 12, 8, 400);
    tokio::time::sleep(Duration::from_millis(150)).await;
    // While the greedy ones are parked, their memory is theirs, not the server's others'.
    assert!(rt.memory_in_use_by("greedy") >= 32 * MIB);
    assert!(rt.memory_in_use_by("greedy") <= 48 * MIB);
    hold(&mut tasks, &rt, "modest", 12, 2, 100);
    let outcomes = outcomes(tasks).await;
    let (greedy_ok, greedy_refused) = &outcomes["greedy"];
    assert!((4..=5).contains(greedy_ok), "{outcomes:?}");
    assert_eq!(greedy_refused.len(), 12 - greedy_ok);
    for message in greedy_refused {
        assert!(
            message.contains("extension") && message.contains("memory budget of 48 MiB"),
            "{message}"
        );
    }
    assert_eq!(
        outcomes["modest"],
        (12, vec![]),
        "the other extension runs on"
    );
    settles_to_zero(&rt, &["greedy", "modest"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_servers_budget_refuses_when_all_extensions_together_exceed_it() {
    let rt = budgeted(40 * MIB, 40 * MIB);
    let mut tasks = tokio::task::JoinSet::new();
    for tenant in ["a", "b", "c"] {
        hold(&mut tasks, &rt, tenant, 3, 8, 300);
    }
    let outcomes = outcomes(tasks).await;
    let ok: usize = outcomes.values().map(|(ok, _)| ok).sum();
    let refused: Vec<&String> = outcomes.values().flat_map(|(_, r)| r).collect();
    assert!((3..=4).contains(&ok), "{outcomes:?}");
    for message in refused {
        assert!(
            message.contains("server's memory budget") && message.contains("40 MiB"),
            "{message}"
        );
    }
    settles_to_zero(&rt, &["a", "b", "c"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_invocations_own_limit_is_still_named_as_such() {
    let rt = budgeted(512 * MIB, 256 * MIB);
    let host = TestHost::with(&[]);
    let args = json!({ "mib": 100, "ms": 0 });
    let inv = run(&rt, &holder(), "functions:test", args, &host).await;
    let err = inv.result.unwrap_err();
    assert_eq!(err.code, ErrorCode::OutOfMemory);
    assert!(!err.message.contains("budget"), "{}", err.message);
    settles_to_zero(&rt, &["test"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_warm_contexts_are_charged_to_nobody_and_never_change_extension() {
    let rt = budgeted(512 * MIB, 64 * MIB);
    let host = TestHost::with(&[]);
    let dep = holder();
    // Enough small invocations of one extension that every worker keeps warm contexts.
    for _ in 0..8 {
        let args = json!({ "mib": 1, "ms": 0 });
        let inv = run_as(&rt, "first", &dep, "functions:test", args, &host).await;
        assert_eq!(inv.result.unwrap(), json!(1));
    }
    settles_to_zero(&rt, &["first"]).await;
    let parked = {
        let (rt, dep, host) = (rt.clone(), dep.clone(), host.clone());
        tokio::spawn(async move {
            let args = json!({ "mib": 4, "ms": 300 });
            run_as(&rt, "second", &dep, "functions:test", args, &host).await
        })
    };
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(rt.memory_in_use_by("second") >= 4 * MIB);
    assert_eq!(rt.memory_in_use_by("first"), 0);
    assert_eq!(rt.memory_in_use(), rt.memory_in_use_by("second"));
    assert_eq!(parked.await.unwrap().result.unwrap(), json!(4));
    settles_to_zero(&rt, &["first", "second"]).await;
}

/// With its share spent to the last chunk by a parked invocation, an extension's next
/// invocations need new QuickJS runtimes while nothing is left: each ends
/// `out_of_memory` before QuickJS is asked for one (rquickjs would crash the process on a
/// refused runtime constructor), and another extension is served.
#[tokio::test(flavor = "multi_thread")]
async fn a_spent_share_refuses_new_runtimes_without_a_crash() {
    let rt = budgeted(256 * MIB, 24 * MIB);
    let greedy = deploy(&action_src(
        "",
        "const kept = [];\ntry { while (true) kept.push(new Uint8Array(16 * 1024)); } catch (e) {}\nawait new Promise((resolve) => setTimeout(resolve, 1500));\nreturn kept.length;",
    ));
    let host = TestHost::with(&[]);
    let hog = {
        let (rt, greedy, host) = (rt.clone(), greedy.clone(), host.clone());
        tokio::spawn(async move {
            run_as(&rt, "hog", &greedy, "functions:test", json!({}), &host).await
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut tasks = tokio::task::JoinSet::new();
    // More at once than the workers keep spare runtimes for: most need a new one.
    hold(&mut tasks, &rt, "hog", 40, 1, 10);
    hold(&mut tasks, &rt, "other", 4, 1, 10);
    let by_tenant = outcomes(tasks).await;
    let (_, hog_refused) = &by_tenant["hog"];
    assert!(!hog_refused.is_empty(), "the spent share refused nothing");
    assert_eq!(by_tenant["other"], (4, Vec::new()));
    assert!(hog.await.unwrap().result.is_ok());
    settles_to_zero(&rt, &["hog", "other"]).await;
}
