//! Durable throughput of the two hot paths, on both backends: concurrent secret sets
//! (target ≥ 2,000/s on PostgreSQL) and audit batches (target ≥ 100,000 records/s).
//! PostgreSQL runs are skipped with a warning when it is not reachable.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use lumio_core::{Environment, ExtensionSlug, SecretName};
use lumio_store::testing::{fresh_postgres_url, sqlite_url};
use lumio_store::{AuditRecord, NewVersion, Store};
use tokio::runtime::Runtime;

/// Concurrent writers, as many HTTP requests in flight.
const WRITERS: usize = 32;
const AUDIT_BATCH: usize = 1000;
const ENV: Environment = Environment::Production;

fn stores(rt: &Runtime, dir: &std::path::Path) -> Vec<(&'static str, Arc<dyn Store>)> {
    let mut stores = vec![("sqlite", sqlite_url(dir))];
    if let Some(url) = rt.block_on(fresh_postgres_url()) {
        stores.push(("postgres", url));
    }
    stores
        .into_iter()
        .map(|(label, url)| (label, rt.block_on(lumio_store::connect(&url)).unwrap()))
        .collect()
}

/// Each writer sets its own secret `iters` times in a row; returns the elapsed time.
async fn concurrent_sets(store: &Arc<dyn Store>, extension_id: i64, iters: u64) -> Duration {
    let start = Instant::now();
    let tasks: Vec<_> = (0..WRITERS)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let name = SecretName::parse(&format!("KEY_{i}")).unwrap();
                let head = store.head(extension_id, ENV, &name).await.unwrap();
                let first = head.map_or(0, |h| h.latest_version);
                for latest in first..first + iters as i64 {
                    let write = NewVersion {
                        name: name.clone(),
                        expected_latest: latest,
                        version: latest + 1,
                        sealed: vec![0xa5; 120],
                        kek_id: "0123456789abcdef".into(),
                        actor: "tok_bench".into(),
                        allowed_hosts: None,
                        set_at: chrono::Utc::now(),
                        expires_at: None,
                        rotate_every: lumio_core::DueUpdate::Keep,
                    };
                    store
                        .write_versions(extension_id, ENV, &[write], 1000, &[])
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

fn record(extension_id: i64, i: usize) -> AuditRecord {
    AuditRecord {
        at: Utc::now(),
        extension_id,
        environment: Some(ENV),
        event: lumio_core::AuditEvent::SecretGet,
        secret_name: Some("STRIPE_SECRET_KEY".into()),
        actor: None,
        action: Some("callExternalApi".into()),
        request_id: Some(format!("req-{i}")),
        outcome: Some("found".into()),
        detail: None,
    }
}

fn hot_paths(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (label, store) in stores(&rt, dir.path()) {
        let slug = ExtensionSlug::parse("bench").unwrap();
        let ext = rt
            .block_on(store.create_extension(&slug, &|_| Vec::new()))
            .unwrap()
            .id;
        let batch: Vec<_> = (0..AUDIT_BATCH).map(|i| record(ext, i)).collect();

        let mut group = c.benchmark_group(label);
        group
            .sample_size(10)
            .measurement_time(Duration::from_secs(10));
        group.throughput(Throughput::Elements(WRITERS as u64));
        group.bench_function(format!("set_{WRITERS}_concurrent"), |b| {
            b.to_async(&rt).iter_custom(|iters| {
                let store = store.clone();
                async move { concurrent_sets(&store, ext, iters).await }
            })
        });
        group.throughput(Throughput::Elements(AUDIT_BATCH as u64));
        group.bench_function(format!("audit_batch_{AUDIT_BATCH}"), |b| {
            b.to_async(&rt).iter(|| store.append_audit(&batch))
        });
        group.finish();
    }
}

criterion_group!(benches, hot_paths);
criterion_main!(benches);
