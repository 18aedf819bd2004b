//! The audit writer into PostgreSQL, durable, against the naive alternative, in one run:
//! - `writer_16_producers`: 16 tasks enqueue records as fast as they can; the time runs
//!   until the last record is committed (group commit: one multi-row insert per batch).
//! - `writer_16_waiting_clients`: 16 clients that each wait for their record to be durable
//!   before sending the next (the management-change pattern), through the writer.
//! - `one_per_transaction_16_clients`: 16 clients each committing one record per
//!   transaction straight to the store, the pattern the writer replaces.
//!
//! Throughput is reported in records per second (criterion's `thrpt`). At the end every
//! record written is sealed and the chain is verified: the figures hold with it intact.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use lumio_audit::{AuditConfig, AuditWriter};
use lumio_core::Environment;
use lumio_store::{AuditRecord, Store};

const CLIENTS: usize = 16;

fn record(i: u64) -> AuditRecord {
    AuditRecord {
        at: Utc::now(),
        extension_id: 1,
        environment: Some(Environment::Production),
        event: lumio_core::AuditEvent::SecretGet,
        secret_name: Some("MY_API_KEY".into()),
        actor: None,
        action: Some("functions:callExternalApi".into()),
        request_id: Some(format!("req-{i}")),
        outcome: Some("found".into()),
        detail: None,
    }
}

async fn producers(writer: &AuditWriter, total: u64) -> Duration {
    let start = Instant::now();
    let per = total.div_ceil(CLIENTS as u64);
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let writer = writer.clone();
            tokio::spawn(async move {
                let mut last = None;
                for i in 0..per {
                    last = Some(writer.enqueue(record(c as u64 * per + i)).await);
                }
                last
            })
        })
        .collect();
    let mut tickets = Vec::new();
    for task in tasks {
        tickets.extend(task.await.unwrap());
    }
    let last = tickets.into_iter().max().unwrap();
    writer.durable(last).await.unwrap();
    start.elapsed()
}

async fn waiting_clients(writer: &AuditWriter, total: u64) -> Duration {
    let start = Instant::now();
    let per = total.div_ceil(CLIENTS as u64);
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let writer = writer.clone();
            tokio::spawn(async move {
                for i in 0..per {
                    writer.record(record(c as u64 * per + i)).await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    start.elapsed()
}

async fn one_per_transaction(store: &Arc<dyn Store>, total: u64) -> Duration {
    let start = Instant::now();
    let per = total.div_ceil(CLIENTS as u64);
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let store = Arc::clone(store);
            tokio::spawn(async move {
                for i in 0..per {
                    store
                        .append_audit(&[record(c as u64 * per + i)])
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    start.elapsed()
}

fn audit_pg(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let Some(url) = rt.block_on(lumio_store::testing::fresh_postgres_url()) else {
        eprintln!("SKIPPING audit_pg: PostgreSQL is not reachable");
        return;
    };
    let store = rt.block_on(lumio_store::connect(&url)).unwrap();
    // As the service does at start: the sealer then links records under the chain key.
    store.set_audit_root(lumio_core::AuditRootKey::from_bytes([1; 32]));
    let writer =
        rt.block_on(async { AuditWriter::spawn(Arc::clone(&store), AuditConfig::default()) });

    let mut group = c.benchmark_group("audit_pg");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(5));
    let n = 20_000u64;
    group.throughput(Throughput::Elements(n));
    group.bench_function("writer_16_producers", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| rt.block_on(producers(&writer, n))).sum())
    });
    let n = 2_000u64;
    group.throughput(Throughput::Elements(n));
    group.bench_function("writer_16_waiting_clients", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| rt.block_on(waiting_clients(&writer, n)))
                .sum()
        })
    });
    group.bench_function("one_per_transaction_16_clients", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| rt.block_on(one_per_transaction(&store, n)))
                .sum()
        })
    });
    group.finish();
    rt.block_on(verify_chain(&*store));
}

/// Seals what is still pending (the small batches) and walks the whole chain.
async fn verify_chain(store: &dyn Store) {
    let started = Instant::now();
    while store.seal_audit(None).await.unwrap() > 0 {}
    match store.verify_audit(1).await.unwrap() {
        lumio_store::ChainVerdict::Intact { records, .. } => eprintln!(
            "audit chain intact: {records} records verified in {:.1?}",
            started.elapsed()
        ),
        lumio_store::ChainVerdict::Broken(b) => panic!("audit chain broken: {b:?}"),
    }
}

criterion_group!(benches, audit_pg);
criterion_main!(benches);
