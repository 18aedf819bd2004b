//! The router: one module per resource.

pub(crate) mod access;
pub(crate) mod actions;
pub(crate) mod admin;
pub(crate) mod audit;
pub(crate) mod bindings;
pub(crate) mod due_dates;
pub(crate) mod extensions;
pub(crate) mod health;
pub(crate) mod parity;
mod paths;
pub(crate) mod secrets;
pub(crate) mod tokens;
pub(crate) mod webhooks;

use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::get;
use axum::Router;
use tower_http::cors::{Any, CorsLayer};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter};
use utoipa_axum::routes;

use crate::{observe, openapi, request_id, AppState};

/// Most requests are small; a single value is at most 64 KiB (up to 6× that JSON-escaped).
const BODY_LIMIT: usize = 512 * 1024;
/// An import may carry up to 1,000 values.
const IMPORT_BODY_LIMIT: usize = 16 * 1024 * 1024;
/// A deployment's sources (each file at most 1 MiB).
const DEPLOY_BODY_LIMIT: usize = 16 * 1024 * 1024;

/// Every API route, each declared once: its `#[utoipa::path]` gives both the route and
/// its entry in the OpenAPI document.
fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::base())
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(tokens::whoami))
        .routes(routes!(tokens::list, tokens::create))
        .routes(routes!(tokens::revoke))
        .routes(routes!(extensions::list, extensions::create))
        .routes(routes!(admin::status))
        .routes(routes!(admin::rotate))
        .routes(routes!(extensions::delete))
        .routes(routes!(extensions::claim_code))
        .routes(routes!(extensions::claim))
        .routes(routes!(extensions::suspend, extensions::resume))
        .routes(routes!(access::list, access::request))
        .routes(routes!(access::approve))
        .routes(routes!(access::revoke))
        .routes(with_body_limit(
            routes!(secrets::list, secrets::import),
            IMPORT_BODY_LIMIT,
        ))
        .routes(routes!(secrets::set, secrets::delete))
        .routes(routes!(bindings::set, bindings::clear))
        .routes(routes!(due_dates::change))
        .routes(routes!(secrets::history))
        .routes(routes!(secrets::rollback))
        .routes(routes!(parity::diff))
        .routes(routes!(parity::copy))
        .routes(routes!(audit::list))
        .routes(routes!(audit::verify))
        .routes(routes!(audit::export))
        .routes(routes!(audit::export_key))
        .routes(with_body_limit(
            routes!(actions::deployments, actions::deploy),
            DEPLOY_BODY_LIMIT,
        ))
        .routes(routes!(actions::logs))
        .routes(routes!(webhooks::list, webhooks::add))
        .routes(routes!(webhooks::remove))
        .routes(routes!(webhooks::test))
        .routes(routes!(webhooks::deliveries))
        .routes(routes!(webhooks::redeliver))
        .routes(client_plane(routes!(actions::invoke)))
}

fn with_body_limit(
    (schemas, paths, router): UtoipaMethodRouter<AppState>,
    limit: usize,
) -> UtoipaMethodRouter<AppState> {
    (schemas, paths, router.layer(DefaultBodyLimit::max(limit)))
}

/// The client plane: browsers on the extension's own origin call it.
fn client_plane(
    (schemas, paths, router): UtoipaMethodRouter<AppState>,
) -> UtoipaMethodRouter<AppState> {
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([axum::http::Method::POST])
        .allow_headers([axum::http::header::CONTENT_TYPE]);
    (schemas, paths, router.layer(cors))
}

/// A page size: `default` when not given, refused outside `1..=max` (as documented)
/// rather than quietly changed.
fn page_limit(
    given: Option<i64>,
    default: i64,
    max: i64,
) -> Result<i64, crate::api_error::AppError> {
    match given {
        None => Ok(default),
        Some(limit) if (1..=max).contains(&limit) => Ok(limit),
        Some(limit) => Err(crate::api_error::AppError::invalid(format!(
            "limit {limit} is out of range; give 1 to {max}"
        ))),
    }
}

/// Largest integer every JSON client reads exactly (2^53 - 1); record ids stay below it.
const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// A paging cursor (a record id): 0 to 2^53 - 1, as documented.
fn cursor_in_range(name: &str, given: Option<i64>) -> Result<(), crate::api_error::AppError> {
    match given {
        Some(id) if !(0..=MAX_SAFE_INTEGER).contains(&id) => {
            Err(crate::api_error::AppError::invalid(format!(
                "{name} {id} is out of range; pass the previous page's value"
            )))
        }
        _ => Ok(()),
    }
}

/// The OpenAPI document `/api/v1/openapi.json` serves.
pub fn document() -> serde_json::Value {
    openapi::finish(api_routes().into_openapi())
}

pub(crate) fn router(state: AppState) -> Router {
    let (api, document) = api_routes().split_for_parts();
    let document = openapi::serve(openapi::finish(document));
    api.route("/metrics", get(crate::metrics::scrape))
        .route("/api/v1/openapi.json", get(document))
        .merge(lumio_dashboard::router_with(
            state.service.clone(),
            lumio_dashboard::DashboardConfig {
                native_tls: state.native_tls,
                ..Default::default()
            },
        ))
        .fallback(health::not_found)
        .layer(middleware::from_fn_with_state(
            state.auth_failures.clone(),
            crate::auth_throttle::throttle,
        ))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn(observe::observe))
        .layer(middleware::from_fn(request_id::assign))
        .with_state(state)
}
