//! Invocations awaiting host I/O are parked: their worker runs others meanwhile, each
//! keeps its own QuickJS runtime, and every limit still holds per invocation.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lumio_runtime::{ErrorCode, Invocation, Runtime, RuntimeLimits, RuntimeOptions};
use serde_json::json;

use crate::common::*;

/// The seed's `callExternalApi` shape: read the key, await the API, return its JSON.
fn seed_like(api: &HeldApi) -> Arc<lumio_runtime::Deployment> {
    deploy(&action_src(
        "n: v.number()",
        &format!(
            "const key = ctx.secrets.get('API_KEY');\nif (!key) throw new Error('no key');\nconst res = await ctx.fetch(`http://{}/search/${{args.n}}`, {{ headers: {{ Authorization: `Bearer ${{key}}` }} }});\nreturn res.json();",
            api.addr
        ),
    ))
}

fn spawn_many(
    rt: &Arc<Runtime>,
    dep: &Arc<lumio_runtime::Deployment>,
    host: &Arc<TestHost>,
    n: usize,
) -> tokio::task::JoinSet<(usize, Invocation)> {
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        let (rt, dep, host) = (rt.clone(), dep.clone(), host.clone());
        tasks.spawn(async move {
            (
                i,
                run(&rt, &dep, "functions:test", json!({ "n": i }), &host).await,
            )
        });
    }
    tasks
}

async fn expect_all_ok(mut tasks: tokio::task::JoinSet<(usize, Invocation)>, n: usize) {
    let mut done = 0;
    while let Some(joined) = tasks.join_next().await {
        let (i, inv) = joined.unwrap();
        assert_eq!(
            inv.result.unwrap(),
            json!({ "path": format!("search/{i}") })
        );
        done += 1;
    }
    assert_eq!(done, n);
}

#[tokio::test(flavor = "multi_thread")]
async fn two_hundred_parked_invocations_hold_no_worker() {
    let api = HeldApi::start(None).await;
    let rt = Arc::new(runtime(limits()));
    assert_eq!(rt.workers(), 2);
    let host = TestHost::with(&[("API_KEY", "sk-parked-0001")]);
    let tasks = spawn_many(&rt, &seed_like(&api), &host, 200);
    // All 200 are awaiting the API at the same time, on two worker threads.
    api.wait_for_arrivals(200).await;
    assert_eq!(rt.in_flight(), 200);
    // A no-secret action still runs at once while they wait.
    let quick = deploy(&action_src("", "return 'quick';"));
    let inv = run(&rt, &quick, "functions:test", json!({}), &host).await;
    assert_eq!(inv.result.unwrap(), json!("quick"));
    assert_eq!(
        tasks.len(),
        200,
        "none of the parked invocations has finished"
    );
    api.release();
    expect_all_ok(tasks, 200).await;
    // A worker gives the place back just after the reply, as it frees the runtime.
    let deadline = Instant::now() + Duration::from_secs(5);
    while rt.in_flight() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(rt.in_flight(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn two_hundred_half_second_calls_take_about_half_a_second() {
    let api = HeldApi::start(Some(Duration::from_millis(500))).await;
    let rt = Arc::new(runtime(limits()));
    let host = TestHost::with(&[("API_KEY", "sk-parked-0002")]);
    let started = Instant::now();
    let tasks = spawn_many(&rt, &seed_like(&api), &host, 200);
    api.wait_for_arrivals(200).await;
    let quick = deploy(&action_src("", "return 'quick';"));
    let asked = Instant::now();
    let inv = run(&rt, &quick, "functions:test", json!({}), &host).await;
    let quick_took = asked.elapsed();
    assert_eq!(inv.result.unwrap(), json!("quick"));
    expect_all_ok(tasks, 200).await;
    let took = started.elapsed();
    // Held one after another they would take 100 s; on two workers, 2 s would already
    // mean that something holds a thread while it waits.
    assert!(took < Duration::from_secs(2), "200 × 500 ms took {took:?}");
    assert!(
        quick_took < Duration::from_millis(250),
        "a quick action took {quick_took:?} meanwhile"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn globals_of_one_invocation_are_invisible_to_another_in_flight() {
    let api = HeldApi::start(None).await;
    let rt = Arc::new(runtime(limits()));
    let first = deploy(&action_src(
        "",
        &format!("(globalThis as any).mark = 'first';\n(Object.prototype as any).tainted = 1;\nawait ctx.fetch('http://{}/x');\nreturn [(globalThis as any).mark, typeof (globalThis as any).otherMark, ({{}} as any).tainted];", api.addr),
    ));
    let other = deploy(&action_src(
        "",
        "(globalThis as any).otherMark = 'other';\nreturn [typeof (globalThis as any).mark, ({} as any).tainted ?? null];",
    ));
    let host = TestHost::with(&[]);
    let mut parked = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let (rt, first, host) = (rt.clone(), first.clone(), host.clone());
        parked.spawn(async move { run(&rt, &first, "functions:test", json!({}), &host).await });
    }
    api.wait_for_arrivals(10).await;
    for _ in 0..10 {
        let inv = run(&rt, &other, "functions:test", json!({}), &host).await;
        assert_eq!(inv.result.unwrap(), json!(["undefined", null]));
    }
    api.release();
    while let Some(joined) = parked.join_next().await {
        assert_eq!(
            joined.unwrap().result.unwrap(),
            json!(["first", "undefined", 1])
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_runaway_loop_ends_at_its_cpu_limit_while_fifty_parked_finish() {
    let api = HeldApi::start(None).await;
    let rt = Arc::new(runtime(RuntimeLimits {
        cpu_time: Duration::from_millis(300),
        ..limits()
    }));
    let host = TestHost::with(&[("API_KEY", "sk-parked-0003")]);
    let tasks = spawn_many(&rt, &seed_like(&api), &host, 50);
    api.wait_for_arrivals(50).await;
    let spin = deploy(&action_src("", "while (true) {}"));
    let inv = run(&rt, &spin, "functions:test", json!({}), &host).await;
    let err = inv.result.unwrap_err();
    assert_eq!(err.code, ErrorCode::Timeout);
    assert!(err.message.contains("CPU-time limit"), "{}", err.message);
    api.release();
    expect_all_ok(tasks, 50).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_promise_that_never_settles_while_a_timer_runs_ends_at_the_wall_limit() {
    let rt = runtime(RuntimeLimits {
        wall_time: Duration::from_millis(800),
        ..limits()
    });
    let dep = deploy(&action_src(
        "",
        "setInterval(() => {}, 50);\nawait new Promise(() => {});",
    ));
    let started = Instant::now();
    let inv = run(&rt, &dep, "functions:test", json!({}), &TestHost::with(&[])).await;
    let err = inv.result.unwrap_err();
    assert_eq!(err.code, ErrorCode::Timeout, "{}", err.message);
    assert!(err.message.contains("wall-time limit"), "{}", err.message);
    // It ends at the limit, or one interval before it: the last tick would come too late.
    assert!(
        started.elapsed() >= Duration::from_millis(700),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn audit_store_breaking_under_a_hundred_parked_fetches_lets_none_out() {
    let api = HeldApi::start(None).await;
    api.release();
    let rt = Arc::new(runtime(limits()));
    let host = TestHost::with(&[("API_KEY", "sk-parked-0004")]);
    host.audit_held.store(true, Ordering::SeqCst);
    let mut tasks = spawn_many(&rt, &seed_like(&api), &host, 100);
    // Every fetch waits for its invocation's read to be durable.
    let deadline = Instant::now() + Duration::from_secs(20);
    while host.durable_calls.load(Ordering::SeqCst) < 100 {
        assert!(
            Instant::now() < deadline,
            "the fetches did not all wait for the audit log"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    host.audit_down.store(true, Ordering::SeqCst);
    host.release_audit();
    while let Some(joined) = tasks.join_next().await {
        let (_, inv) = joined.unwrap();
        assert_eq!(inv.result.unwrap_err().code, ErrorCode::AuditUnavailable);
    }
    assert_eq!(
        api.arrived.load(Ordering::SeqCst),
        0,
        "no request may leave"
    );
}

/// Work left in the job queue cannot reach the next invocation: it runs (and is charged)
/// in the invocation that queued it.
#[tokio::test(flavor = "multi_thread")]
async fn a_microtask_left_behind_stays_with_its_own_invocation() {
    let rt = Runtime::with_options(RuntimeOptions {
        limits: RuntimeLimits {
            cpu_time: Duration::from_millis(300),
            ..limits()
        },
        workers: 1,
        ..RuntimeOptions::default()
    })
    .unwrap();
    let attack = deploy(&action_src(
        "",
        "Promise.resolve().then(() => { while (true) {} });\nreturn 'x';",
    ));
    let victim = deploy(&action_src("", "return 'victim ok';"));
    let host = TestHost::with(&[]);
    let inv = run(&rt, &attack, "functions:test", json!({}), &host).await;
    assert_eq!(inv.result.unwrap_err().code, ErrorCode::Timeout);
    for _ in 0..4 {
        let inv = run(&rt, &victim, "functions:test", json!({}), &host).await;
        assert_eq!(inv.result.unwrap(), json!("victim ok"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_microtask_storm_out_of_memory_leaves_the_next_invocations_whole() {
    let rt = Runtime::with_options(RuntimeOptions {
        limits: limits(),
        workers: 1,
        ..RuntimeOptions::default()
    })
    .unwrap();
    let storm = deploy(&action_src(
        "",
        "const kept: string[] = [];\nconst storm = () => { kept.push('x'.repeat(1e5) + kept.length); Promise.resolve().then(storm); };\nstorm();\nreturn 'x';",
    ));
    let victim = deploy(&action_src("", "return [1, 2, 3].map((n) => n * 2);"));
    let host = TestHost::with(&[]);
    let inv = run(&rt, &storm, "functions:test", json!({}), &host).await;
    // The allocation that fails rejects the storm's own promise chain, which the handler
    // does not await: it may end with its value or with the memory error. Either way the
    // runtime that ran out of memory is gone with it.
    match inv.result {
        Ok(value) => assert_eq!(value, json!("x")),
        Err(err) => assert_eq!(err.code, ErrorCode::OutOfMemory, "{}", err.message),
    }
    for _ in 0..10 {
        let inv = run(&rt, &victim, "functions:test", json!({}), &host).await;
        assert_eq!(inv.result.unwrap(), json!([2, 4, 6]));
    }
}

/// A caller that has gone before its invocation started costs nothing: no read, no record.
#[tokio::test(flavor = "multi_thread")]
async fn an_invocation_whose_caller_has_gone_is_not_run() {
    let rt = Arc::new(
        Runtime::with_options(RuntimeOptions {
            limits: limits(),
            workers: 1,
            ..RuntimeOptions::default()
        })
        .unwrap(),
    );
    let busy = deploy(&action_src(
        "",
        "const until = Date.now() + 300; while (Date.now() < until) {} return 'busy';",
    ));
    let reads = deploy(&action_src(
        "",
        "return ctx.secrets.get('API_KEY')!.length;",
    ));
    let host = TestHost::with(&[("API_KEY", "sk-gone-0001")]);
    let occupying = {
        let (rt, busy, host) = (rt.clone(), busy.clone(), host.clone());
        tokio::spawn(async move { run(&rt, &busy, "functions:test", json!({}), &host).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    let gone = tokio::time::timeout(
        Duration::from_millis(50),
        run(&rt, &reads, "functions:test", json!({}), &host),
    )
    .await;
    assert!(
        gone.is_err(),
        "the caller gave up while the worker was busy"
    );
    assert_eq!(occupying.await.unwrap().result.unwrap(), json!("busy"));
    let after = run(&rt, &reads, "functions:test", json!({}), &host).await;
    assert_eq!(after.result.unwrap(), json!(12));
    assert_eq!(
        host.reads.lock().unwrap().len(),
        1,
        "only the call that waited read"
    );
}
