//! Hostile JavaScript: each ends only its own invocation, and nothing survives it.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use lumio_runtime::{ErrorCode, RuntimeLimits};
use serde_json::json;

use crate::common::*;

async fn outcome(body: &str) -> lumio_runtime::Invocation {
    let rt = runtime(limits());
    let dep = deploy(&action_src("", body));
    run(
        &rt,
        &dep,
        "functions:test",
        json!({}),
        &TestHost::with(&[("API_KEY", "sk-hostile-1")]),
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn an_infinite_loop_times_out_while_others_keep_running() {
    let rt = runtime(RuntimeLimits {
        cpu_time: Duration::from_millis(500),
        ..limits()
    });
    let spin = deploy(&action_src("", "while (true) {}"));
    let quick = deploy(&action_src("", "return 'fine';"));
    let host = TestHost::with(&[]);
    let started = Instant::now();
    let looping = run(&rt, &spin, "functions:test", json!({}), &host);
    let others = async {
        for _ in 0..20 {
            assert_eq!(
                run(&rt, &quick, "functions:test", json!({}), &host)
                    .await
                    .result
                    .unwrap(),
                json!("fine")
            );
        }
        started.elapsed()
    };
    let (looping, others_done) = tokio::join!(looping, others);
    let err = looping.result.unwrap_err();
    assert_eq!(err.code, ErrorCode::Timeout);
    assert!(err.message.contains("CPU-time limit"), "{}", err.message);
    assert!(
        others_done < Duration::from_millis(450),
        "others waited for the loop: {others_done:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_memory_bomb_is_stopped_and_the_next_invocation_runs() {
    let inv = outcome("let a: string[] = []; while (true) a.push('x'.repeat(1e6));").await;
    assert_eq!(inv.result.unwrap_err().code, ErrorCode::OutOfMemory);
    let inv = outcome("const big = new Array(1e9).fill(0); return big.length;").await;
    assert_eq!(inv.result.unwrap_err().code, ErrorCode::OutOfMemory);
}

#[tokio::test(flavor = "multi_thread")]
async fn runaway_recursion_is_stopped() {
    let inv = outcome("const f = (n: number): number => f(n + 1) + 1;\nreturn f(0);").await;
    let err = inv.result.unwrap_err();
    assert_eq!(err.code, ErrorCode::StackOverflow);
    assert!(err.message.contains("Maximum call stack size exceeded"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_million_gets_end_cleanly() {
    let rt = runtime(limits());
    let host = TestHost::with(&[("API_KEY", "sk-hostile-1")]);
    let dep = deploy(&action_src(
        "",
        "for (let i = 0; i < 1e6; i++) ctx.secrets.get('API_KEY');\nreturn 'no';",
    ));
    let inv = run(&rt, &dep, "functions:test", json!({}), &host).await;
    let err = inv.result.unwrap_err();
    assert_eq!(err.code, ErrorCode::LimitExceeded, "{}", err.message);
    assert_eq!(host.reads.lock().unwrap().len(), 10_000);
    // Catching the error and going on still ends, within the CPU limit.
    let dep = deploy(&action_src("", "let n = 0; for (let i = 0; i < 1e6; i++) { try { ctx.secrets.get('API_KEY'); } catch { n++; } }\nreturn n;"));
    let inv = run(&rt, &dep, "functions:test", json!({}), &host).await;
    assert!(
        matches!(&inv.result, Ok(v) if v == &json!(990_000))
            || inv.result.as_ref().unwrap_err().code == ErrorCode::Timeout
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn overwriting_ctx_and_globals_reaches_no_other_extension() {
    let rt = runtime(limits());
    let host = TestHost::with(&[("API_KEY", "sk-hostile-1")]);
    let src = "import { action } from \"@zaflun/lumio-sdk/server\";\nlet counter = 0;\nexport const tamper = action({ args: {}, handler: async (ctx: any) => {\n  counter++;\n  ctx.secrets = { get: () => 'fake' };\n  (globalThis as any).leftBehind = 'x';\n  (Object.prototype as any).polluted = true;\n  JSON.stringify = () => 'hijacked';\n  console.log = () => {};\n  return [ctx.secrets.get('API_KEY'), counter];\n} });\nexport const inspect = action({ args: {}, handler: async (ctx: any) => {\n  counter++;\n  return [typeof (globalThis as any).leftBehind, ({} as any).polluted ?? null, JSON.stringify({ a: 1 }), counter, ctx.secrets.get('API_KEY')!.length];\n} });\n";
    let dep = deploy(src);
    let first = run(&rt, &dep, "functions:tamper", json!({}), &host).await;
    assert_eq!(first.result.unwrap(), json!(["fake", 1]));
    for _ in 0..4 {
        // The same extension's next invocations get a `ctx` of their own (its globals
        // may survive on a warm context: see tests/runtime/warm.rs).
        let next = run(&rt, &dep, "functions:inspect", json!({}), &host).await;
        assert_eq!(next.result.unwrap()[4], json!(12));
        // Another extension running the very same code sees none of it.
        let other = run_as(&rt, "other", &dep, "functions:inspect", json!({}), &host).await;
        let other = other.result.unwrap();
        for (at, expected) in [
            (0, json!("undefined")),
            (1, json!(null)),
            (2, json!("{\"a\":1}")),
        ] {
            assert_eq!(other[at], expected);
        }
        assert_eq!(other[4], json!(12));
    }
}

/// `Date`, `Map`/`Set` and the typed arrays are built on first use in each context: an
/// extension that tampers with them leaves nothing for another one on the same worker,
/// which gets the standard objects (whichever it touches first).
#[tokio::test(flavor = "multi_thread")]
async fn deferred_builtins_are_fresh_and_standard_in_every_extensions_context() {
    let rt = runtime(limits());
    let host = TestHost::with(&[]);
    let src = "import { action } from \"@zaflun/lumio-sdk/server\";\nexport const tamper = action({ args: {}, handler: async () => {\n  (Map.prototype as any).get = () => 'hijacked';\n  (Date as any).now = () => 0;\n  (Uint8Array.prototype as any).at = () => 'hijacked';\n  (globalThis as any).Set = 'gone';\n  return [new Map([[1, 'a']]).get(1), Date.now(), typeof Set];\n} });\nexport const inspect = action({ args: {}, handler: async () => {\n  const bytes = new Uint8Array([7, 8]);\n  const seen = new Set([1, 1, 2]);\n  return [bytes.at(-1), seen.size, new Map([[1, 'a']]).get(1), Date.now() > 0, new WeakMap() instanceof WeakMap, new DataView(new ArrayBuffer(2)).byteLength];\n} });\n";
    let dep = deploy(src);
    let first = run(&rt, &dep, "functions:tamper", json!({}), &host).await;
    assert_eq!(first.result.unwrap(), json!(["hijacked", 0, "string"]));
    for _ in 0..4 {
        let next = run_as(&rt, "other", &dep, "functions:inspect", json!({}), &host).await;
        assert_eq!(next.result.unwrap(), json!([8, 2, "a", true, true, 2]));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn eval_and_function_work_without_escaping() {
    let inv = outcome("const g = Function('return this')();\nreturn [eval('1 + 1'), new Function('a', 'return a * 2')(21), typeof g.std, typeof g.os, typeof g.require, typeof g.process, typeof g.secretGet];").await;
    assert_eq!(
        inv.result.unwrap(),
        json!([
            2,
            42,
            "undefined",
            "undefined",
            "undefined",
            "undefined",
            "undefined"
        ])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invalid_secret_name_throws_the_parse_message() {
    let inv = outcome("return ctx.secrets.get('../etc/passwd');").await;
    let err = inv.result.unwrap_err();
    assert_eq!(err.code, ErrorCode::ActionError);
    assert!(
        err.message.contains("[A-Za-z_][A-Za-z0-9_]*"),
        "{}",
        err.message
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn many_invocations_run_in_parallel() {
    let rt = std::sync::Arc::new(runtime(limits()));
    let dep = deploy(&action_src("n: v.number()", "const key = ctx.secrets.get('API_KEY')!;\nlet s = 0; for (let i = 0; i < 1000; i++) s += i;\nreturn { n: args.n, s, len: key.length };"));
    let host = TestHost::with(&[("API_KEY", "sk-hostile-1")]);
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..64 {
        let (rt, dep, host) = (rt.clone(), dep.clone(), host.clone());
        tasks.spawn(async move {
            (
                n,
                run(&rt, &dep, "functions:test", json!({ "n": n }), &host).await,
            )
        });
    }
    while let Some(joined) = tasks.join_next().await {
        let (n, inv) = joined.unwrap();
        assert_eq!(
            inv.result.unwrap(),
            json!({ "n": n, "s": 499500, "len": 12 })
        );
    }
    assert_eq!(host.reads.lock().unwrap().len(), 64);
    assert_eq!(host.durable.load(Ordering::SeqCst), 64);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_promise_that_never_settles_ends() {
    let inv = outcome("await new Promise(() => {});").await;
    let err = inv.result.unwrap_err();
    assert_eq!(err.code, ErrorCode::ActionError);
    assert!(err.message.contains("never settled"), "{}", err.message);
}

/// A flood of slow invocations cannot queue without bound: one worker and room for one
/// waiting job take two, the rest fail at once with `overloaded`, and the runtime serves
/// normally once the flood has passed.
#[tokio::test(flavor = "multi_thread")]
async fn a_flood_beyond_the_queue_is_refused_as_overloaded() {
    let rt = lumio_runtime::Runtime::with_options(lumio_runtime::RuntimeOptions {
        limits: limits(),
        workers: 1,
        max_inflight: 2,
        ..lumio_runtime::RuntimeOptions::default()
    })
    .unwrap();
    let slow = deploy(&action_src(
        "",
        "const until = Date.now() + 150; while (Date.now() < until) {} return 'done';",
    ));
    let host = TestHost::with(&[]);
    // `join!` polls each once before any can finish, so all five ask at once.
    let one = || run(&rt, &slow, "functions:test", json!({}), &host);
    let (a, b, c, d, e) = tokio::join!(one(), one(), one(), one(), one());
    let outcomes = [a, b, c, d, e];
    let overloaded: Vec<_> = outcomes
        .iter()
        .filter_map(|inv| inv.result.as_ref().err())
        .filter(|err| err.code == ErrorCode::Overloaded)
        .collect();
    let done = outcomes
        .iter()
        .filter(|inv| inv.result.as_ref().ok() == Some(&json!("done")))
        .count();
    assert!(overloaded.len() >= 3, "{outcomes:?}");
    assert!(done >= 1, "{outcomes:?}");
    assert_eq!(overloaded.len() + done, 5, "{outcomes:?}");
    assert!(
        overloaded[0].message.contains("retry"),
        "{:?}",
        overloaded[0]
    );
    let after = run(&rt, &slow, "functions:test", json!({}), &host).await;
    assert_eq!(after.result.unwrap(), json!("done"));
}

/// QuickJS throws a bare `null` when it cannot allocate even its out-of-memory error;
/// whichever it was, the caller learns both possibilities and the runtime is retired.
#[tokio::test(flavor = "multi_thread")]
async fn a_bare_null_escaping_is_reported_as_possible_out_of_memory() {
    let inv = outcome("throw null;").await;
    let err = inv.result.unwrap_err();
    assert_eq!(err.code, ErrorCode::OutOfMemory);
    assert!(err.message.contains("or threw null"), "{}", err.message);
    let inv = outcome("return 'fine';").await;
    assert_eq!(inv.result.unwrap(), json!("fine"));
}
