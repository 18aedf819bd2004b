//! The router: one module per resource.

pub(crate) mod actions;
pub(crate) mod audit;
pub(crate) mod bindings;
pub(crate) mod extensions;
pub(crate) mod health;
pub(crate) mod parity;
mod paths;
pub(crate) mod secrets;
pub(crate) mod tokens;

use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::{delete, get, post, put};
use axum::Router;
use tower_http::cors::{Any, CorsLayer};

use crate::{observe, openapi, request_id, AppState};

/// Most requests are small; a single value is at most 64 KiB (up to 6× that JSON-escaped).
const BODY_LIMIT: usize = 512 * 1024;
/// An import may carry up to 1,000 values.
const IMPORT_BODY_LIMIT: usize = 16 * 1024 * 1024;
/// A deployment's sources (each file at most 1 MiB).
const DEPLOY_BODY_LIMIT: usize = 16 * 1024 * 1024;

pub(crate) fn router(state: AppState) -> Router {
    let scoped = "/api/v1/extensions/{ext}/environments/{env}";
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(crate::metrics::scrape))
        .route("/api/v1/openapi.json", get(openapi::document))
        .route("/api/v1/whoami", get(tokens::whoami))
        .route("/api/v1/tokens", get(tokens::list).post(tokens::create))
        .route("/api/v1/tokens/{id}", delete(tokens::revoke))
        .route(
            "/api/v1/extensions",
            get(extensions::list).post(extensions::create),
        )
        .route(
            &format!("{scoped}/secrets"),
            get(secrets::list)
                .post(secrets::import)
                .layer(DefaultBodyLimit::max(IMPORT_BODY_LIMIT)),
        )
        .route(
            &format!("{scoped}/secrets/{{name}}"),
            put(secrets::set).delete(secrets::delete),
        )
        .route(
            &format!("{scoped}/secrets/{{name}}/binding"),
            put(bindings::set).delete(bindings::clear),
        )
        .route(
            &format!("{scoped}/secrets/{{name}}/versions"),
            get(secrets::history),
        )
        .route(
            &format!("{scoped}/secrets/{{name}}/rollback"),
            post(secrets::rollback),
        )
        .route(&format!("{scoped}/diff"), get(parity::diff))
        .route(&format!("{scoped}/copy"), post(parity::copy))
        .route(&format!("{scoped}/audit"), get(audit::list))
        .route("/api/v1/extensions/{ext}/audit/verify", get(audit::verify))
        .route("/api/v1/extensions/{ext}/audit/export", get(audit::export))
        .route(
            &format!("{scoped}/deployments"),
            get(actions::deployments)
                .post(actions::deploy)
                .layer(DefaultBodyLimit::max(DEPLOY_BODY_LIMIT)),
        )
        .route(&format!("{scoped}/logs"), get(actions::logs))
        .route(
            &format!("{scoped}/actions/{{action}}"),
            // The client plane: browsers on the extension's own origin call it.
            post(actions::invoke).layer(
                CorsLayer::new()
                    .allow_origin(Any)
                    .allow_methods([axum::http::Method::POST])
                    .allow_headers([axum::http::header::CONTENT_TYPE]),
            ),
        )
        .merge(lumio_dashboard::router(state.service.clone()))
        .fallback(health::not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn(observe::observe))
        .layer(middleware::from_fn(request_id::assign))
        .with_state(state)
}
