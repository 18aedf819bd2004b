//! `ctx.secrets.get` from JavaScript (target ≤ 2 µs a call), a no-op action with a
//! fresh context each time (target ≤ 150 µs), and the leak guard's scan of a 1 MiB result
//! after 100 reads (the same action without reads is the baseline).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use lumio_core::Ticket;
use lumio_core::{CurrentValue, SecretName, SecretValue};
use lumio_runtime::{
    compile, Denials, Host, HostError, Runtime, RuntimeLimits, RuntimeOptions, SecretReads,
};
use serde_json::json;

const GETS: u64 = 10_000;

/// Secrets `S0` … `S99` for the leak-guard bench.
const GUARDED: usize = 100;

/// A host whose reads are a map lookup and whose audit enqueue is a counter.
struct MapHost {
    value: Arc<SecretValue>,
    guarded: Vec<Arc<SecretValue>>,
    next: AtomicU64,
}

#[async_trait]
impl Host for MapHost {
    fn secret_get(&self, name: &SecretName) -> Result<Option<CurrentValue>, HostError> {
        let unbound = |value: &Arc<SecretValue>| CurrentValue {
            value: value.clone(),
            allowed_hosts: None,
            expires_at: None,
        };
        if name.as_str() == "API_KEY" {
            return Ok(Some(unbound(&self.value)));
        }
        let index = name
            .as_str()
            .strip_prefix('S')
            .and_then(|i| i.parse::<usize>().ok());
        Ok(index.and_then(|i| self.guarded.get(i)).map(unbound))
    }

    fn record_reads(&self, reads: &[SecretReads]) -> Result<Option<Ticket>, HostError> {
        let n = reads.len() as u64;
        Ok((n > 0).then(|| Ticket(self.next.fetch_add(n, Ordering::Relaxed) + n)))
    }

    fn record_denied(&self, _: &Denials<'_>) -> Result<Option<Ticket>, HostError> {
        Ok(Some(Ticket(self.next.fetch_add(1, Ordering::Relaxed) + 1)))
    }

    fn record_egress_blocked(&self, _: &SecretName, _: &str) -> Result<Ticket, HostError> {
        Ok(Ticket(self.next.fetch_add(1, Ordering::Relaxed) + 1))
    }

    async fn audit_durable(&self, _up_to: Ticket) -> Result<(), HostError> {
        Ok(())
    }
}

fn deployment(body: &str) -> Arc<lumio_runtime::Deployment> {
    let src = format!(
        "import {{ action }} from \"@zaflun/lumio-sdk/server\";\nexport const run = action({{ args: {{}}, handler: (ctx: any) => {{ {body} }} }});\n"
    );
    Arc::new(compile(BTreeMap::from([("server/functions.ts".to_owned(), src)])).unwrap())
}

fn benches(c: &mut Criterion) {
    let tokio = tokio::runtime::Runtime::new().unwrap();
    let runtime = tokio.block_on(async {
        let limits = RuntimeLimits {
            max_secret_gets: GETS as u32,
            ..RuntimeLimits::default()
        };
        Runtime::with_options(RuntimeOptions {
            limits,
            workers: 1,
            ..RuntimeOptions::default()
        })
        .unwrap()
    });
    let host: Arc<dyn Host> = Arc::new(MapHost {
        value: Arc::new(SecretValue::new("sk-bench-0123456789".into()).unwrap()),
        guarded: (0..GUARDED)
            .map(|i| Arc::new(SecretValue::new(format!("sk-live-{i:03}-9f8e7d6c5b4a")).unwrap()))
            .collect(),
        next: AtomicU64::new(1),
    });

    let gets = deployment(&format!(
        "let n = 0; for (let i = 0; i < {GETS}; i++) {{ if (ctx.secrets.get('API_KEY') !== null) n++; }} return n;"
    ));
    let mut group = c.benchmark_group("secrets_get");
    group.throughput(Throughput::Elements(GETS));
    group.bench_function("10k_gets_in_one_invocation", |b| {
        b.to_async(&tokio).iter(|| async {
            let inv = runtime
                .invoke(
                    "bench",
                    gets.clone(),
                    "functions:run",
                    json!({}),
                    host.clone(),
                )
                .await;
            assert_eq!(inv.result.unwrap(), json!(GETS));
        })
    });
    group.finish();

    let noop = deployment("return null;");
    // The steady state: the worker's warm context for the deployment runs each call.
    c.bench_function("noop_action_warm_context", |b| {
        b.to_async(&tokio).iter(|| async {
            let inv = runtime
                .invoke(
                    "bench",
                    noop.clone(),
                    "functions:run",
                    json!({}),
                    host.clone(),
                )
                .await;
            assert!(inv.result.is_ok());
        })
    });

    // A cold start: a deployment the worker has no context for (a copy is another
    // deployment to the runtime), so each call makes and loads a new context.
    c.bench_function("noop_action_fresh_context", |b| {
        b.to_async(&tokio).iter(|| async {
            let inv = runtime
                .invoke(
                    "bench",
                    Arc::new((*noop).clone()),
                    "functions:run",
                    json!({}),
                    host.clone(),
                )
                .await;
            assert!(inv.result.is_ok());
        })
    });

    guard_bench(c, &runtime, &host, &tokio);
}

/// A 1 MiB result of text that looks like an API's answer (letters, digits, punctuation),
/// returned with and without 100 secrets read first: the difference is the guard's scan.
fn guard_bench(
    c: &mut Criterion,
    runtime: &Runtime,
    host: &Arc<dyn Host>,
    tokio: &tokio::runtime::Runtime,
) {
    let chunk: String = (0..1024u32)
        .map(|i| {
            let alphabet =
                b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ,.:-_\"{}";
            char::from(alphabet[(i.wrapping_mul(2_654_435_761) >> 7) as usize % alphabet.len()])
        })
        .filter(|c| *c != '"' && *c != '\\')
        .collect();
    let body = |reads: &str| {
        format!("{reads} const chunk = '{chunk}'; return {{ data: chunk.repeat(Math.ceil(1048576 / chunk.length)).slice(0, 1048576) }};")
    };
    let read = |n: usize| format!("for (let i = 0; i < {n}; i++) ctx.secrets.get('S' + i);");
    let cases = [
        ("1mib_result_no_reads", deployment(&body(""))),
        ("1mib_result_after_3_reads", deployment(&body(&read(3)))),
        (
            "1mib_result_after_100_reads",
            deployment(&body(&read(GUARDED))),
        ),
    ];
    let mut group = c.benchmark_group("leak_guard");
    group.sample_size(30);
    for (label, deployment) in cases {
        group.bench_function(label, |b| {
            b.to_async(tokio).iter(|| async {
                let inv = runtime
                    .invoke(
                        "bench",
                        deployment.clone(),
                        "functions:run",
                        json!({}),
                        host.clone(),
                    )
                    .await;
                assert!(inv.result.is_ok(), "{:?}", inv.result.err());
            })
        });
    }
    group.finish();
}

criterion_group!(runtime, benches);
criterion_main!(runtime);
