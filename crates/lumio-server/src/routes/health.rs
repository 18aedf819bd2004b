use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use lumio_api::health::{Health, Readiness};

use crate::api_error::AppError;
use crate::AppState;

/// Longest a readiness probe waits for the database (probes have their own timeouts,
/// typically 1–5 s; an answer within them beats a probe that times out).
const READY_DB_WAIT: Duration = Duration::from_secs(2);

/// Liveness: answers while the server runs.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, body = Health)))]
pub(crate) async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".to_owned(),
    })
}

/// Readiness: 200 when the store answers a query and the audit writer commits what it
/// is given; 503 naming the part that does not, so a load balancer stops sending
/// traffic that would fail.
#[utoipa::path(get, path = "/readyz", tag = "health", responses((status = 200, body = Readiness), (status = 503, body = Readiness)))]
pub(crate) async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let probe = state.service.probe_database();
    // The causes (a database's own error text: hosts, users, settings) go to the log for
    // the operator; the probe, which anyone can call, learns only which part is down.
    let database = match tokio::time::timeout(READY_DB_WAIT, probe).await {
        Ok(Ok(_)) => None,
        Ok(Err(err)) => Some((
            "the database does not answer; the server log has the cause".to_owned(),
            err.to_string(),
        )),
        Err(_) => Some((
            format!(
                "the database did not answer within {}s",
                READY_DB_WAIT.as_secs()
            ),
            "timed out".to_owned(),
        )),
    };
    let audit = state.service.audit().health().err().map(|e| {
        (
            format!("{e}; the server log has the cause"),
            e.cause().to_owned(),
        )
    });
    if database.is_some() || audit.is_some() {
        let cause = |part: &Option<(String, String)>| {
            part.as_ref()
                .map_or("ok".to_owned(), |(_, cause)| cause.clone())
        };
        tracing::warn!(database = %cause(&database), audit = %cause(&audit), "not ready");
    }
    let database = database.map(|(shown, _)| shown);
    let audit = audit.map(|(shown, _)| shown);
    let ready = database.is_none() && audit.is_none();
    let ok = |problem: Option<String>| problem.unwrap_or_else(|| "ok".to_owned());
    let body = Readiness {
        status: if ready { "ready" } else { "not_ready" }.to_owned(),
        database: ok(database),
        audit: ok(audit),
    };
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}

pub(crate) async fn not_found() -> AppError {
    AppError {
        code: lumio_api::ErrorCode::NotFound,
        message: "no such endpoint".to_owned(),
        hint: Some("see /api/v1/openapi.json for the API".to_owned()),
    }
}
