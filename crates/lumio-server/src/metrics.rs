//! Prometheus metrics (`GET /metrics`). Every crate records through the `metrics` facade
//! (counters and histograms at the place the event happens); gauges that are a reading of
//! some state (runtime load, audit queue) are sampled when the endpoint is scraped, so
//! they cost nothing between scrapes.
//!
//! Labels carry only fixed words: the matched route template (`…/secrets/{name}`, never
//! the path itself), the method, the status and an outcome code. No name or value a user
//! chose ever becomes a label.

use std::sync::OnceLock;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use subtle::ConstantTimeEq;

use crate::api_error::AppError;
use crate::AppState;

/// Latency buckets in seconds: 100 µs to 30 s (an action's wall-time limit).
const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0, 30.0,
];
/// Records per audit batch (the writer's batches hold at most 4,096).
const BATCH_BUCKETS: &[f64] = &[
    1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 4096.0,
];

/// How often histogram samples are folded into their buckets when nobody scrapes, so
/// memory stays bounded.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The process-wide recorder: the `metrics` facade has one global recorder, so several
/// servers in one process (tests) share it.
pub(crate) fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
            .and_then(|b| {
                b.set_buckets_for_metric(
                    Matcher::Full("lumio_audit_batch_size".into()),
                    BATCH_BUCKETS,
                )
            })
            .expect("bucket lists are not empty")
            .build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("another metrics recorder is installed; /metrics will be empty");
        }
        describe();
        handle
    })
}

/// Folds histogram samples into buckets now and then; runs as long as the runtime.
pub(crate) fn spawn_upkeep() {
    static STARTED: OnceLock<()> = OnceLock::new();
    STARTED.get_or_init(|| {
        tokio::spawn(async {
            let mut every = tokio::time::interval(UPKEEP_EVERY);
            loop {
                every.tick().await;
                handle().run_upkeep();
            }
        });
    });
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(
        "lumio_audit_pruned_records_total",
        "Audit records deleted by retention (--audit-retention-days)"
    );
    describe_counter!(
        "lumio_audit_pruned_partitions_total",
        "Whole days of audit records dropped by retention (PostgreSQL partitions)"
    );
    describe_counter!(
        "lumio_invocation_logs_written_total",
        "Invocation logs written to the store (lumio logs)"
    );
    describe_counter!(
        "lumio_invocation_logs_dropped_total",
        "Invocation logs dropped: the writer's queue was full or a batch could not be written"
    );
    describe_counter!(
        "lumio_invocation_logs_pruned_total",
        "Invocation logs removed by retention (--log-retention-days, 10,000 per environment)"
    );
    describe_counter!(
        "lumio_http_requests_total",
        "HTTP requests by method, route template and status"
    );
    describe_histogram!(
        "lumio_http_request_duration_seconds",
        Unit::Seconds,
        "HTTP request latency by method and route template"
    );
    describe_counter!(
        "lumio_action_invocations_total",
        "Action invocations by outcome (ok or the error code)"
    );
    describe_histogram!(
        "lumio_action_duration_seconds",
        Unit::Seconds,
        "Action invocation latency by outcome"
    );
    describe_gauge!(
        "lumio_runtime_inflight",
        "Action invocations in flight (queued, running or awaiting I/O)"
    );
    describe_gauge!(
        "lumio_runtime_queued",
        "Action invocations waiting for a worker thread"
    );
    describe_gauge!(
        "lumio_runtime_memory_bytes",
        Unit::Bytes,
        "Bytes the JavaScript heaps of action invocations in flight hold"
    );
    describe_gauge!(
        "lumio_runtime_memory_budget_bytes",
        Unit::Bytes,
        "Bytes those heaps may hold together (--runtime-memory)"
    );
    describe_gauge!(
        "lumio_audit_queue_depth",
        "Audit records queued and not yet in a batch"
    );
    describe_histogram!(
        "lumio_audit_batch_size",
        "Audit records per committed batch"
    );
    describe_histogram!(
        "lumio_audit_commit_duration_seconds",
        Unit::Seconds,
        "Time to commit one audit batch"
    );
    describe_counter!(
        "lumio_audit_batch_failures_total",
        "Audit batch commits that failed and were retried"
    );
    describe_gauge!(
        "lumio_db_pool_connections",
        "PostgreSQL pool connections by state (in_use, idle)"
    );
    describe_gauge!(
        "lumio_db_pool_max_connections",
        "Most connections the PostgreSQL pool opens"
    );
    describe_counter!(
        "lumio_secret_cache_hits_total",
        "Secret reads answered from this process's cache"
    );
    describe_counter!(
        "lumio_secret_cache_misses_total",
        "Secret reads that went to the store"
    );
}

/// The metrics of one action call; `outcome` is "ok" or an error code, never a name
/// (public, hidden, for the cost benchmark).
#[doc(hidden)]
pub fn record_invocation(outcome: &'static str, took: Duration) {
    metrics::counter!("lumio_action_invocations_total", "outcome" => outcome).increment(1);
    metrics::histogram!("lumio_action_duration_seconds", "outcome" => outcome)
        .record(took.as_secs_f64());
}

/// Installs the recorder and renders what it holds (for the cost benchmark).
#[doc(hidden)]
pub fn render() -> String {
    handle().render()
}

/// `GET /metrics`: the Prometheus text format. With `--metrics-token`, only for a
/// request bearing it.
pub(crate) async fn scrape(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(expected) = &state.metrics_token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(crate::auth::bearer_token)
            .unwrap_or_default();
        if !bool::from(given.as_bytes().ct_eq(expected.expose().as_bytes())) {
            return AppError {
                code: lumio_api::ErrorCode::Unauthorized,
                message: "this server's metrics need a token".to_owned(),
                hint: Some("send `Authorization: Bearer <the --metrics-token value>`".to_owned()),
            }
            .into_response();
        }
    }
    let (in_flight, queued) = state.actions.runtime_load();
    metrics::gauge!("lumio_runtime_inflight").set(in_flight as f64);
    metrics::gauge!("lumio_runtime_queued").set(queued as f64);
    let (memory, budget) = state.actions.runtime_memory();
    metrics::gauge!("lumio_runtime_memory_bytes").set(memory as f64);
    metrics::gauge!("lumio_runtime_memory_budget_bytes").set(budget as f64);
    metrics::gauge!("lumio_audit_queue_depth").set(state.service.audit().queued() as f64);
    if let Some(pool) = state.service.pool_usage() {
        let in_use = pool.open.saturating_sub(pool.idle);
        metrics::gauge!("lumio_db_pool_connections", "state" => "in_use").set(f64::from(in_use));
        metrics::gauge!("lumio_db_pool_connections", "state" => "idle").set(f64::from(pool.idle));
        metrics::gauge!("lumio_db_pool_max_connections").set(f64::from(pool.max));
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle().render(),
    )
        .into_response()
}
