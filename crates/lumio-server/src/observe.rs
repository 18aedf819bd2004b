//! One span and one log line per request, and the HTTP metrics. The span carries the
//! request id, so every event logged while the request runs names it; the line says
//! method, route template, status and latency. Only the route *template* is logged or
//! labelled (`…/secrets/{name}`): paths hold extension and secret names, and bodies hold
//! values, so neither is ever recorded.

use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use crate::request_id::RequestId;

/// What a request with no route is logged and labelled as.
const UNMATCHED: &str = "unmatched";

pub(crate) async fn observe(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(request.method());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED, MatchedPath::as_str)
        .to_owned();
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .map(|id| id.0.clone())
        .unwrap_or_default();
    let span = tracing::info_span!("request", request_id = %request_id, method, route = %route);
    let response = next.run(request).instrument(span.clone()).await;
    let latency = started.elapsed();
    let status = response.status().as_u16();
    span.in_scope(|| {
        tracing::info!(
            target: "lumio::request",
            method,
            route = %route,
            status,
            latency_ms = latency.as_secs_f64() * 1e3,
            request_id = %request_id,
            "request"
        );
    });
    record_request(method, route, status, latency);
    response
}

/// The HTTP metrics of one answered request (public, hidden, for the cost benchmark).
#[doc(hidden)]
pub fn record_request(method: &'static str, route: String, status: u16, latency: Duration) {
    let status = status.to_string();
    metrics::counter!(
        "lumio_http_requests_total",
        "method" => method, "route" => route.clone(), "status" => status
    )
    .increment(1);
    metrics::histogram!(
        "lumio_http_request_duration_seconds",
        "method" => method, "route" => route
    )
    .record(latency.as_secs_f64());
}

/// The method as a fixed word: extension methods are client-chosen strings, and a label
/// per string would let any client grow the metrics without bound.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}
