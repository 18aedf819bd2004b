//! `lumio server`: runs the platform in this process.

use anyhow::Context;
use lumio_server::{MetricsToken, ServerConfig, TlsFiles};

use crate::cli::ServerArgs;

pub fn run(args: ServerArgs) -> anyhow::Result<()> {
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
    };
    // Only the server needs an async runtime; client commands use blocking HTTP.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .on_thread_park(crate::allocator::flush_thread_cache_now_and_then)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(lumio_server::run(config))
}

fn mib_to_bytes(mib: u64) -> usize {
    usize::try_from(mib.saturating_mul(1 << 20)).unwrap_or(usize::MAX)
}
