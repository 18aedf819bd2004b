//! Cost of sealing and opening one secret version (target: opening 64 bytes in ≤ 1 µs).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use lumio_core::SecretValue;
use lumio_crypto::{open, seal, MasterKey, SecretPlace};

const PLACE: SecretPlace<'static> = SecretPlace {
    extension_id: 42,
    environment: "production",
    name: "STRIPE_SECRET_KEY",
    version: 7,
};

fn envelope(c: &mut Criterion) {
    let key = MasterKey::generate();
    let small = SecretValue::new("s".repeat(64)).unwrap();
    let large = SecretValue::new("l".repeat(64 * 1024)).unwrap();
    let sealed_small = seal(&key, &PLACE, &small);
    let sealed_large = seal(&key, &PLACE, &large);

    let mut group = c.benchmark_group("envelope");
    group.throughput(Throughput::Bytes(64));
    group.bench_function("open_64B", |b| {
        b.iter(|| open(&key, &PLACE, black_box(&sealed_small)).unwrap())
    });
    group.bench_function("seal_64B", |b| {
        b.iter(|| seal(&key, &PLACE, black_box(&small)))
    });
    group.throughput(Throughput::Bytes(64 * 1024));
    group.bench_function("open_64KiB", |b| {
        b.iter(|| open(&key, &PLACE, black_box(&sealed_large)).unwrap())
    });
    group.finish();
}

criterion_group!(benches, envelope);
criterion_main!(benches);
