//! The Lumio dashboard: server-rendered pages under `/dashboard` for managing an
//! extension's secrets and reading its audit log, compiled into the `lumio` binary.
//!
//! Dashboard → Extensions → {extension} → Settings → Secrets, sign-in with a token, a
//! per-session CSRF token on every form, and a strict Content-Security-Policy (no scripts,
//! one stylesheet served by this router).
//!
//! Architecture Invariant: the dashboard is a thin shell over [`SecretsService`]. Every
//! read and write goes through a service method, which does the access check and writes
//! the audit record; the dashboard only decides which controls to *show*. A secret value
//! travels only from a submitted form into the service and is never rendered back.

mod error;
mod forms;
mod paths;
mod routes;
mod security;
mod session;
mod views;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use lumio_secrets::SecretsService;

/// Where the dashboard is mounted; every link and the session cookie's `Path` use it.
pub const BASE: &str = "/dashboard";

/// Settings of the dashboard router.
#[derive(Debug, Clone)]
pub struct DashboardConfig {
    /// How long a session lasts after sign-in (absolute, not sliding).
    pub session_ttl: Duration,
    /// The server itself serves HTTPS (`--tls-cert`): every cookie gets `Secure`, as it
    /// does behind a TLS-terminating proxy that says so.
    pub native_tls: bool,
}

impl Default for DashboardConfig {
    fn default() -> Self {
        Self {
            session_ttl: Duration::from_secs(12 * 60 * 60),
            native_tls: false,
        }
    }
}

/// Shared state of the dashboard's handlers.
#[derive(Clone)]
pub(crate) struct DashState {
    pub service: SecretsService,
    pub sessions: Arc<session::Sessions>,
}

/// The sign-in page answering a throttled sign-in: 429 with `Retry-After` and the form
/// again, saying how long to wait. The server's throttle calls it for dashboard paths.
pub fn throttled_sign_in(
    headers: &axum::http::HeaderMap,
    wait: Duration,
) -> axum::response::Response {
    routes::throttled_sign_in(headers, wait)
}

/// The dashboard's routes, all under [`BASE`], with the default settings. Merge it into
/// the server's router; it carries its own state, so it fits a router of any state type.
pub fn router<S>(secrets: SecretsService) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    router_with(secrets, DashboardConfig::default())
}

/// [`router`] with explicit settings (tests use a short session lifetime).
pub fn router_with<S>(secrets: SecretsService, config: DashboardConfig) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let sessions = session::Sessions::new(config.session_ttl, secrets.clone());
    let state = DashState {
        service: secrets,
        sessions: Arc::new(sessions),
    };
    let router = routes::router().with_state(state);
    if config.native_tls {
        // Every request reached this process over TLS: say so the way a TLS-terminating
        // proxy would (replacing whatever the client sent), and the cookies get `Secure`.
        router.layer(axum::middleware::map_request(session::mark_https))
    } else {
        router
    }
}
