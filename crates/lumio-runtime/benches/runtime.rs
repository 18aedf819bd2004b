//! `ctx.secrets.get` from JavaScript (target ≤ 2 µs a call) and a no-op action with a
//! fresh context each time (target ≤ 150 µs).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use lumio_audit::Ticket;
use lumio_core::{SecretName, SecretValue};
use lumio_runtime::{
    compile, Host, HostError, Runtime, RuntimeLimits, RuntimeOptions, SecretReads,
};
use serde_json::json;

const GETS: u64 = 10_000;

/// A host whose reads are a map lookup and whose audit enqueue is a counter.
struct MapHost {
    value: Arc<SecretValue>,
    next: AtomicU64,
}

#[async_trait]
impl Host for MapHost {
    fn secret_get(&self, name: &SecretName) -> Result<Option<Arc<SecretValue>>, HostError> {
        Ok((name.as_str() == "API_KEY").then(|| self.value.clone()))
    }

    fn record_reads(&self, reads: &[SecretReads]) -> Result<Option<Ticket>, HostError> {
        let n = reads.len() as u64;
        Ok((n > 0).then(|| Ticket(self.next.fetch_add(n, Ordering::Relaxed) + n)))
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
                .invoke(gets.clone(), "functions:run", json!({}), host.clone())
                .await;
            assert_eq!(inv.result.unwrap(), json!(GETS));
        })
    });
    group.finish();

    let noop = deployment("return null;");
    c.bench_function("noop_action_fresh_context", |b| {
        b.to_async(&tokio).iter(|| async {
            let inv = runtime
                .invoke(noop.clone(), "functions:run", json!({}), host.clone())
                .await;
            assert!(inv.result.is_ok());
        })
    });
}

criterion_group!(runtime, benches);
criterion_main!(runtime);
