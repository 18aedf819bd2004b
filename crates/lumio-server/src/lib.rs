//! The Lumio server: an axum HTTP API over the secrets service, routes by resource, one
//! error shape, a request id on every response, and an OpenAPI document generated from
//! the handlers.
//!
//! Architecture Invariant: this is the only crate that knows the wire format. Handlers
//! parse input into domain types, call one service method, and shape the answer; access
//! checks and audit records live in the service.

mod address_limit;
mod api_error;
mod audit_upkeep;
mod auth;
mod auth_throttle;
mod hardening;
mod idle;
mod json;
mod kms;
mod logging;
mod master_key;
mod metrics;
mod observe;
mod openapi;
mod openapi_bodies;
mod rate_limit;
mod request_id;
mod routes;
mod serve;
mod webhooks;
pub use routes::document as api_document;
mod startup;
mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;

pub use audit_upkeep::AuditRetention;
pub use logging::LogFormat;
pub use lumio_actions::DEFAULT_LOG_RETENTION_DAYS;
#[doc(hidden)]
pub use metrics::{record_invocation, render as render_metrics};
#[doc(hidden)]
pub use observe::record_request;
pub use rate_limit::DEFAULT_PER_SECOND as DEFAULT_CLIENT_RATE_LIMIT;
pub use startup::{run, start, start_with_clock, RunningServer};
pub use tls::TlsFiles;
pub use webhooks::WebhookTiming;

/// Default listen address of `lumio server`.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7311";

/// Options of `lumio server`.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// Holds `lumio.db` (SQLite default), `master.key` (generated default) and `admin-token`.
    pub data_dir: PathBuf,
    /// `postgres://…` or `sqlite://…`; default `sqlite://<data_dir>/lumio.db`.
    pub database_url: Option<String>,
    /// File holding the base64 master key; else `LUMIO_MASTER_KEY`; else `<data_dir>/master.key`,
    /// generated on first start.
    pub master_key_file: Option<PathBuf>,
    /// Master keys being rotated away from (files; also `LUMIO_PREVIOUS_MASTER_KEY`): they
    /// open what they sealed, and at start every secret is moved to the current key.
    pub previous_master_key_files: Vec<PathBuf>,
    /// `--kms-transit`: the URL of an OpenBao/Vault transit key that wraps the master keys
    /// instead of a key file (`http(s)://HOST:PORT/v1/<mount>/keys/<name>`).
    pub kms_transit: Option<String>,
    /// `--kms-token-file`: the KMS token's file; else `LUMIO_KMS_TOKEN`.
    pub kms_token_file: Option<PathBuf>,
    /// Starts even when a master key file is readable by its group or others (after a
    /// loud warning); without it such a file is refused, as ssh refuses such a key.
    pub allow_insecure_master_key_file: bool,
    /// Lets `ctx.fetch` reach private, loopback and link-local addresses.
    pub allow_private_fetch: bool,
    /// Most action invocations in flight (queued, running or awaiting I/O); 0 means the
    /// runtime's default.
    pub max_inflight_actions: usize,
    /// What the JavaScript heaps of all invocations in flight may hold together, in bytes;
    /// 0 means the runtime's default (half the machine's memory, within bounds).
    pub runtime_memory_bytes: usize,
    /// What one extension's invocations in flight may hold together, in bytes; 0 means a
    /// quarter of `runtime_memory_bytes`.
    pub runtime_memory_per_extension_bytes: usize,
    /// Called on a runtime worker thread idle after work ([`lumio_actions::RuntimeOptions::idle_trim`]).
    pub idle_trim: Option<fn()>,
    /// Most invocations in flight for one extension; 0 means a quarter of the server's.
    pub max_inflight_per_extension: usize,
    /// Client-plane calls per second per extension; beyond it 429 with `Retry-After`.
    /// `None`: [`DEFAULT_CLIENT_RATE_LIMIT`]; 0: no limit.
    pub client_rate_limit: Option<u32>,
    /// Longest wait for a database connection before a request answers 503; `None`: the
    /// store's default (4 s).
    pub db_timeout: Option<std::time::Duration>,
    /// Serve HTTPS with this certificate and key instead of plain HTTP.
    pub tls: Option<TlsFiles>,
    /// When set, `GET /metrics` answers only requests with `Authorization: Bearer <it>`.
    pub metrics_token: Option<MetricsToken>,
    /// Text or JSON lines (`run` installs the subscriber; `start` leaves logging alone).
    pub log_format: LogFormat,
    /// Audit records older than this are removed hourly; `None` keeps them forever.
    pub audit_retention: Option<AuditRetention>,
    /// Invocation logs older than this many days are removed hourly (and beyond
    /// [`lumio_actions::KEPT_INVOCATIONS`] per extension and environment).
    pub log_retention_days: u32,
    /// How webhook deliveries are paced (the lease, retries); tests shorten them.
    pub webhook_timing: WebhookTiming,
}

impl ServerConfig {
    /// The embedded default: SQLite and a generated key under `data_dir`.
    pub fn local(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            listen: DEFAULT_LISTEN.parse().expect("valid default address"),
            data_dir: data_dir.into(),
            database_url: None,
            master_key_file: None,
            previous_master_key_files: Vec::new(),
            kms_transit: None,
            kms_token_file: None,
            allow_insecure_master_key_file: false,
            allow_private_fetch: false,
            max_inflight_actions: 0,
            runtime_memory_bytes: 0,
            runtime_memory_per_extension_bytes: 0,
            idle_trim: None,
            max_inflight_per_extension: 0,
            client_rate_limit: None,
            db_timeout: None,
            tls: None,
            metrics_token: None,
            log_format: LogFormat::Text,
            audit_retention: None,
            log_retention_days: DEFAULT_LOG_RETENTION_DAYS,
            webhook_timing: WebhookTiming::default(),
        }
    }
}

/// `--metrics-token`: wiped on drop, never printed by `Debug`.
#[derive(Clone)]
pub struct MetricsToken(zeroize::Zeroizing<String>);

impl MetricsToken {
    pub fn new(token: String) -> Self {
        Self(zeroize::Zeroizing::new(token))
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for MetricsToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MetricsToken([REDACTED])")
    }
}

/// Shared state of every handler. Extracting it clones it once per request (and per
/// middleware layer): one reference count, not one per field (cloning and dropping the
/// fields one by one took about 4 % of the no-op action's CPU).
#[derive(Clone)]
pub(crate) struct AppState(std::sync::Arc<Handlers>);

impl std::ops::Deref for AppState {
    type Target = Handlers;

    fn deref(&self) -> &Handlers {
        &self.0
    }
}

/// What [`AppState`] shares.
pub(crate) struct Handlers {
    pub service: lumio_secrets::SecretsService,
    pub actions: lumio_actions::ActionsService,
    pub client_limit: std::sync::Arc<rate_limit::ClientRateLimit>,
    /// `secret_leak` answers per client address and extension (a guessing oracle).
    pub leak_limit: std::sync::Arc<address_limit::AddressLimit>,
    /// `secret.denied` records per client address and extension (audit growth).
    pub denied_limit: std::sync::Arc<address_limit::AddressLimit>,
    /// Refused tokens and dashboard sign-ins per client address (guessing tokens).
    pub auth_failures: std::sync::Arc<address_limit::AddressLimit>,
    /// `--metrics-token`, if any.
    pub metrics_token: Option<MetricsToken>,
    /// The server serves HTTPS itself (`--tls-cert`): the dashboard's cookies are `Secure`.
    pub native_tls: bool,
    /// Checks webhook URLs and sends test events under `ctx.fetch`'s address rules.
    pub webhook_client: lumio_runtime::GuardedClient,
}
