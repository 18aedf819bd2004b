//! What the metrics add to one audited action call: the HTTP request's counter and
//! histogram, the invocation's counter and histogram, and a secret cache hit — recorded
//! through the same functions the server calls, into the same Prometheus recorder.
//! Compare with the time one audited call takes (`bench/load.sh`): the budget is 2 %.
//!
//!   cargo bench -p lumio-server --bench metrics_cost

use std::time::Duration;

use criterion::{black_box, criterion_group, criterion_main, Criterion};

const ROUTE: &str = "/api/v1/extensions/{ext}/environments/{env}/actions/{action}";

fn audited_call_metrics(c: &mut Criterion) {
    // Installs the recorder, as a server start does.
    let _ = lumio_server::render_metrics();
    c.bench_function("metrics of one audited action call", |b| {
        b.iter(|| {
            lumio_server::record_request(
                "POST",
                ROUTE.to_owned(),
                200,
                black_box(Duration::from_micros(180)),
            );
            lumio_server::record_invocation("ok", black_box(Duration::from_micros(150)));
            metrics::counter!("lumio_secret_cache_hits_total").increment(1);
        })
    });
    // A scrape while the counters hold a few series, to see it costs nothing per call.
    c.bench_function("render /metrics", |b| b.iter(lumio_server::render_metrics));
}

criterion_group!(benches, audited_call_metrics);
criterion_main!(benches);
