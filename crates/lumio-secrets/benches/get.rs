//! The runtime's read path: `SecretsService::get` on a cached secret, audit enqueue
//! included. Timed in batches; the audit writer's commits of each batch are awaited
//! outside the timed region (the audit writer has its own benchmark).

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use lumio_audit::{AuditConfig, AuditWriter};
use lumio_core::{Environment, ExtensionSlug, SecretName, SecretValue};
use lumio_crypto::{Keyring, MasterKey};
use lumio_secrets::{open_service, Reader, RequestContext};

const BATCH: u64 = 10_000;

fn cached_get(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (service, extension_id) = rt.block_on(async {
        let url = format!("sqlite://{}", dir.path().join("bench.db").display());
        let store = lumio_store::connect(&url).await.unwrap();
        let audit = AuditWriter::spawn(
            store.clone(),
            AuditConfig {
                max_batch: 8192,
                queue_capacity: 2 * BATCH as usize,
                ..AuditConfig::default()
            },
        );
        let boot = open_service(
            store,
            Keyring::new(MasterKey::generate(), Vec::new()),
            audit,
            Some("bench-admin-token-0001"),
        )
        .await
        .unwrap();
        let service = boot.service;
        let ctx = RequestContext {
            principal: service
                .authenticate("bench-admin-token-0001")
                .await
                .unwrap(),
            request_id: "bench".into(),
        };
        let slug = ExtensionSlug::parse("bench").unwrap();
        let extension = service
            .create_extension(&ctx, &slug, None)
            .await
            .unwrap()
            .extension;
        let name = SecretName::parse("MY_API_KEY").unwrap();
        let value = SecretValue::new(
            "sk-abc123-0123456789abcdef0123456789abcdef-64-bytes-long-value!!".into(),
        )
        .unwrap();
        service
            .set(&ctx, &slug, Environment::Production, &name, &value)
            .await
            .unwrap();
        (service, extension.id)
    });
    let name = SecretName::parse("MY_API_KEY").unwrap();
    let reader = Reader {
        extension_id,
        environment: Environment::Production,
        action: "functions:callExternalApi",
        request_id: "bench-request",
    };
    let mut group = c.benchmark_group("secrets");
    group.bench_function("get_cached_with_audit_enqueue", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let n = left.min(BATCH);
                rt.block_on(async {
                    let start = Instant::now();
                    let mut last = None;
                    for _ in 0..n {
                        let read = service.get(reader, &name).await.unwrap();
                        last = Some(read.ticket);
                    }
                    total += start.elapsed();
                    if let Some(ticket) = last {
                        service.audit().durable(ticket).await.unwrap();
                    }
                });
                left -= n;
            }
            total
        })
    });
    group.bench_function("cached_lookup_only", |b| {
        b.iter(|| service.cached(extension_id, Environment::Production, &name))
    });
    group.finish();
}

criterion_group!(benches, cached_get);
criterion_main!(benches);
