//! Turning a [`ServerConfig`] into a listening server.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use lumio_actions::{ActionsService, RuntimeLimits, RuntimeOptions};
use lumio_audit::{AuditConfig, AuditWriter};
use lumio_secrets::{open_service_with, BootstrapToken, Clock, ServiceOptions};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::address_limit::{AddressLimit, MAX_AUTH_FAILURES, MAX_DENIED_RECORDS, MAX_LEAK_ANSWERS};
use crate::tls::Tls;
use crate::{master_key, routes, AppState, ServerConfig};

/// A server running on the current tokio runtime.
pub struct RunningServer {
    pub addr: SocketAddr,
    pub service: lumio_secrets::SecretsService,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
    deliverer: Option<crate::webhooks::Deliverer>,
}

impl RunningServer {
    /// Stops accepting, finishes requests in flight and flushes the audit log.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task).await??;
        if let Some(deliverer) = self.deliverer.take() {
            deliverer.stop().await;
        }
        self.service.audit().shutdown().await;
        Ok(())
    }
}

/// Starts the server and returns once it is listening.
///
/// Order matters: everything that can refuse without writing (the certificate, the
/// bootstrap token, the key files, the port, the database) is checked before anything is
/// written, so a start that fails leaves no key file or admin token behind.
pub async fn start(config: ServerConfig) -> anyhow::Result<RunningServer> {
    start_with_clock(config, Clock::system()).await
}

/// [`start`] with the clock that expiry and audit retention read: in tests, one moved
/// ahead by hand (`lumio server` always runs on the system clock).
pub async fn start_with_clock(config: ServerConfig, clock: Clock) -> anyhow::Result<RunningServer> {
    // A bad certificate stops the start here, not at the first handshake.
    let tls = config
        .tls
        .as_ref()
        .map(Tls::load)
        .transpose()?
        .map(Arc::new);
    let bootstrap_token = std::env::var("LUMIO_BOOTSTRAP_TOKEN").ok();
    if let Some(token) = &bootstrap_token {
        lumio_secrets::check_bootstrap_token(token).map_err(startup_error)?;
    }
    let (unseal, previous_keys) = master_key::load_unseal(&config)?;
    let listener = TcpListener::bind(config.listen).await.map_err(|err| {
        anyhow::anyhow!(
            "cannot listen on {}: {err}; nothing was written\n\
             hint: stop what listens there, or pass --listen ADDR (LUMIO_LISTEN) to pick another",
            config.listen
        )
    })?;
    let url = match &config.database_url {
        Some(url) => url.clone(),
        None => {
            create_data_dir(&config.data_dir)?;
            format!("sqlite://{}", config.data_dir.join("lumio.db").display())
        }
    };
    let mut store_options = lumio_secrets::StoreOptions::default();
    if let Some(wait) = config.db_timeout {
        store_options.connection_wait = wait;
    }
    let store = lumio_secrets::connect_with(&url, &store_options)
        .await
        .with_context(|| format!("cannot open the store at {}", redact_url(&url)))?;
    if matches!(unseal, master_key::UnsealPlan::Generate(_)) {
        create_data_dir(&config.data_dir)?;
    }
    let set_up_with = lumio_secrets::set_up_with(store.as_ref());
    let unseal = unseal.resolve(set_up_with, &redact_url(&url)).await?;
    let keys = lumio_secrets::load_keyring(store.as_ref(), unseal.as_ref(), previous_keys)
        .await
        .map_err(startup_error)?;
    crate::hardening::warn_if_swappable(&keys);
    let audit = AuditWriter::spawn(store.clone(), AuditConfig::default());
    let options = ServiceOptions {
        clock: clock.clone(),
    };
    let boot = open_service_with(
        store.clone(),
        keys,
        audit,
        bootstrap_token.as_deref(),
        options,
    )
    .await
    .map_err(startup_error)?;
    // After the service loaded the audit key: retention moves chain anchors with keyed
    // records, and skips its pass until the key is there.
    crate::audit_upkeep::spawn(
        boot.service.clone(),
        config.audit_retention,
        config.log_retention_days,
    );
    boot.service.set_unseal(unseal);
    boot.service
        .resume_if_unfinished()
        .await
        .context("cannot check for an unfinished master-key rotation")?;
    match boot.admin_token {
        Some(BootstrapToken::Generated(token)) => {
            create_data_dir(&config.data_dir)?;
            let path = config.data_dir.join("admin-token");
            write_private(&path, &token)?;
            tracing::warn!(
                path = %path.display(),
                "created the first instance-admin token; read it from this file (mode 0600), or \
                 with `lumio server admin-token --data-dir {}`, and run \
                 `lumio login --url {}://{} --token \"$(cat {})\"`",
                config.data_dir.display(),
                if config.tls.is_some() { "https" } else { "http" },
                config.listen,
                path.display()
            );
        }
        Some(BootstrapToken::Provided) => {
            tracing::info!("created the first instance-admin token from LUMIO_BOOTSTRAP_TOKEN");
        }
        None => {}
    }
    let limits = RuntimeLimits {
        allow_private_fetch: config.allow_private_fetch,
        ..RuntimeLimits::default()
    };
    let actions = ActionsService::new(
        boot.service.clone(),
        RuntimeOptions {
            limits,
            max_inflight: config.max_inflight_actions,
            memory_budget_bytes: config.runtime_memory_bytes,
            memory_per_extension_bytes: config.runtime_memory_per_extension_bytes,
            max_inflight_per_extension: config.max_inflight_per_extension,
            idle_trim: config.idle_trim,
            ..RuntimeOptions::default()
        },
    )?;
    let state = AppState(Arc::new(crate::Handlers {
        service: boot.service.clone(),
        actions,
        client_limit: std::sync::Arc::new(crate::rate_limit::ClientRateLimit::new(
            config
                .client_rate_limit
                .unwrap_or(crate::DEFAULT_CLIENT_RATE_LIMIT),
        )),
        leak_limit: Arc::new(AddressLimit::new(MAX_LEAK_ANSWERS)),
        denied_limit: Arc::new(AddressLimit::new(MAX_DENIED_RECORDS)),
        auth_failures: Arc::new(AddressLimit::new(MAX_AUTH_FAILURES)),
        metrics_token: config.metrics_token.clone(),
        native_tls: tls.is_some(),
        webhook_client: lumio_runtime::GuardedClient::new(
            config.allow_private_fetch,
            std::time::Duration::from_secs(10),
            concat!("lumio-webhooks/", env!("CARGO_PKG_VERSION")),
        )?,
    }));
    let deliverer = crate::webhooks::Deliverer::spawn(
        boot.service.clone(),
        config.allow_private_fetch,
        config.webhook_timing,
    )?;
    crate::metrics::handle();
    crate::metrics::spawn_upkeep();
    let addr = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(%addr, scheme, backend = store.backend(), "lumio server listening");
    let (stop, stopped) = oneshot::channel::<()>();
    let app = routes::router(state);
    if let Some(tls) = &tls {
        crate::tls::reload_on_sighup(tls.clone())?;
    }
    let task = tokio::spawn(crate::serve::serve(listener, app, tls, stopped));
    Ok(RunningServer {
        addr,
        service: boot.service,
        stop: Some(stop),
        task,
        deliverer: Some(deliverer),
    })
}

/// Runs until SIGINT or SIGTERM, then shuts down cleanly.
pub async fn run(config: ServerConfig) -> anyhow::Result<()> {
    crate::logging::init(config.log_format);
    crate::hardening::disable_core_dumps();
    let server = start(config).await?;
    shutdown_signal().await;
    tracing::info!("shutting down");
    server.stop().await
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("install SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// A start-up refusal of the service, with its hint on a line of its own.
fn startup_error(err: lumio_secrets::ServiceError) -> anyhow::Error {
    match err.startup_hint() {
        Some(hint) => anyhow::anyhow!("{err}\nhint: {hint}"),
        None => anyhow::anyhow!("{err}"),
    }
}

/// The data directory (mode 0700), made only when something is about to be written in it.
fn create_data_dir(dir: &Path) -> anyhow::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create the data directory {}", dir.display()))
}

fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(contents.as_bytes())?;
    file.write_all(b"\n")?;
    Ok(())
}

/// A database URL without its password, for messages.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}
