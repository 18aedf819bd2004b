//! `lumio server`: runs the platform in this process; `lumio server admin-token` and
//! `lumio healthcheck` are what an operator of the distroless image (no shell, no `cat`,
//! no `curl`) runs beside it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use lumio_cli::error::{CliError, Failure};
use lumio_server::{MetricsToken, ServerConfig, TlsFiles};

use crate::args::ServerArgs;

/// What `lumio server` does besides serving.
#[derive(Debug, Subcommand)]
pub enum ServerCommand {
    /// Print the first instance-admin token the server saved in its data directory, for
    /// `lumio login` (in a container: `docker compose exec lumio lumio server admin-token`).
    AdminToken {
        /// The server's data directory.
        #[arg(long, env = "LUMIO_DATA_DIR", default_value = ".lumio")]
        data_dir: PathBuf,
    },
}

/// Options of `lumio healthcheck`.
#[derive(Debug, Args)]
pub struct HealthcheckArgs {
    /// The server's URL [default: this machine's server, from LUMIO_LISTEN and
    /// LUMIO_TLS_CERT].
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// Address the server listens on, when --url is not given.
    #[arg(long, env = "LUMIO_LISTEN", default_value = lumio_server::DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// The server's certificate, when --url is not given: its presence means HTTPS.
    #[arg(long, env = "LUMIO_TLS_CERT", value_name = "FILE", hide = true)]
    pub tls_cert: Option<PathBuf>,
    /// Only check that the server answers (/healthz), not that it can reach its database
    /// and audit log (/readyz).
    #[arg(long)]
    pub live: bool,
}

pub fn run(args: ServerArgs) -> anyhow::Result<()> {
    if let Some(ServerCommand::AdminToken { data_dir }) = args.command {
        return print_admin_token(&data_dir);
    }
    let config = ServerConfig {
        listen: args.listen,
        data_dir: args.data_dir,
        database_url: args.database_url.filter(|url| !url.is_empty()),
        master_key_file: args.master_key_file,
        previous_master_key_files: args.previous_master_key_files,
        kms_transit: args.kms_transit.filter(|url| !url.is_empty()),
        kms_token_file: args.kms_token_file,
        allow_insecure_master_key_file: args.allow_insecure_master_key_file,
        allow_private_fetch: args.allow_private_fetch,
        max_inflight_actions: args.max_inflight_actions.map_or(0, |n| n as usize),
        runtime_memory_bytes: args.runtime_memory.map_or(0, mib_to_bytes),
        runtime_memory_per_extension_bytes: args
            .runtime_memory_per_extension
            .map_or(0, mib_to_bytes),
        max_inflight_per_extension: args.max_inflight_per_extension.map_or(0, |n| n as usize),
        idle_trim: Some(crate::allocator::idle_trim),
        client_rate_limit: args.client_rate_limit,
        db_timeout: args.db_timeout.map(std::time::Duration::from_secs),
        tls: args
            .tls_cert
            .zip(args.tls_key)
            .map(|(cert, key)| TlsFiles { cert, key }),
        metrics_token: args
            .metrics_token
            .filter(|t| !t.is_empty())
            .map(MetricsToken::new),
        log_format: args.log_format,
        audit_retention: args
            .audit_retention_days
            .and_then(lumio_server::AuditRetention::days),
        log_retention_days: args.log_retention_days,
        webhook_timing: webhook_timing_from_env()?,
    };
    // Only the server needs an async runtime; client commands use blocking HTTP.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .on_thread_park(crate::allocator::flush_thread_cache_now_and_then)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(lumio_server::run(config))
}

/// Webhook delivery pacing: the defaults, unless `LUMIO_WEBHOOK_LEASE_SECS` or
/// `LUMIO_WEBHOOK_RETRY_BASE_MS` shorten them (the fault tests do; documented in
/// docs/webhooks.md, not as flags: an operator has no reason to change them).
fn webhook_timing_from_env() -> anyhow::Result<lumio_server::WebhookTiming> {
    let mut timing = lumio_server::WebhookTiming::default();
    let read = |name: &str| -> anyhow::Result<Option<u64>> {
        match std::env::var(name) {
            Ok(text) => text
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|n| *n > 0)
                .map(Some)
                .with_context(|| format!("{name} must be a whole number above 0")),
            Err(_) => Ok(None),
        }
    };
    if let Some(secs) = read("LUMIO_WEBHOOK_LEASE_SECS")? {
        timing.lease = std::time::Duration::from_secs(secs);
    }
    if let Some(ms) = read("LUMIO_WEBHOOK_RETRY_BASE_MS")? {
        timing.retry_base = std::time::Duration::from_millis(ms);
    }
    Ok(timing)
}

fn mib_to_bytes(mib: u64) -> usize {
    usize::try_from(mib.saturating_mul(1 << 20)).unwrap_or(usize::MAX)
}

/// Prints `<data_dir>/admin-token`, written once by the first start of a server.
fn print_admin_token(data_dir: &std::path::Path) -> anyhow::Result<()> {
    let path = data_dir.join("admin-token");
    let token = std::fs::read_to_string(&path).map_err(|err| {
        let hint = if err.kind() == std::io::ErrorKind::NotFound {
            "the server writes it on its first start against an empty database, unless \
             LUMIO_BOOTSTRAP_TOKEN gave the token; pass the server's --data-dir \
             (LUMIO_DATA_DIR), or create a token with `lumio tokens create` as an admin"
        } else {
            "run this as the user the server runs as (the file is mode 0600)"
        };
        CliError::new(format!("cannot read {}: {err}", path.display())).with_hint(hint)
    })?;
    println!("{}", token.trim());
    Ok(())
}

/// `lumio healthcheck`: exits 0 when the server answers `/readyz` (or `/healthz` with
/// `--live`) with 200, else 1 with the reason: Docker's HEALTHCHECK reads 1 as unhealthy
/// (and reserves 2), so this is not the unavailable class (6) of other commands.
pub fn healthcheck(args: HealthcheckArgs) -> anyhow::Result<()> {
    let path = if args.live { "/healthz" } else { "/readyz" };
    let mut http = reqwest::blocking::Client::builder().timeout(Duration::from_secs(5));
    let base = match &args.url {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => {
            // This machine's own server, whose certificate names its public host, not
            // the loopback address: the probe sends no token and reads nothing secret,
            // so the certificate is not checked.
            if args.tls_cert.is_some() {
                http = http.danger_accept_invalid_certs(true);
            }
            local_url(args.listen, args.tls_cert.is_some())
        }
    };
    let url = format!("{base}{path}");
    let unhealthy = |why: String| {
        CliError::new(format!("{url}: {why}"))
            .with_hint(
                "see the server's log; `lumio healthcheck --live` checks only that it answers",
            )
            .with_failure(Failure::General)
    };
    let answer = http
        .build()
        .context("cannot set up HTTP")?
        .get(&url)
        .send()
        .map_err(|err| unhealthy(format!("no answer ({})", root_cause(&err))))?;
    let status = answer.status();
    if !status.is_success() {
        let body = answer.text().unwrap_or_default();
        return Err(unhealthy(format!("{status} {}", body.trim())).into());
    }
    println!("ok: {url}");
    Ok(())
}

/// The URL of a server listening on `listen` on this machine: an unspecified address
/// (`0.0.0.0`, `::`) is reached on loopback.
fn local_url(listen: SocketAddr, tls: bool) -> String {
    let ip = match listen.ip() {
        ip if !ip.is_unspecified() => ip,
        std::net::IpAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
        std::net::IpAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
    };
    let scheme = if tls { "https" } else { "http" };
    format!("{scheme}://{}", SocketAddr::new(ip, listen.port()))
}

/// The innermost error's words (reqwest's own top line only says "error sending request").
fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

#[cfg(test)]
mod tests {
    use super::local_url;

    #[test]
    fn an_unspecified_listen_address_is_probed_on_loopback() {
        let url = |listen: &str, tls| local_url(listen.parse().unwrap(), tls);
        assert_eq!(url("0.0.0.0:7311", false), "http://127.0.0.1:7311");
        assert_eq!(url("[::]:7311", true), "https://[::1]:7311");
        assert_eq!(url("10.0.0.5:80", false), "http://10.0.0.5:80");
    }
}
