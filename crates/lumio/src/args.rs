//! The `lumio` binary's command line: `server` and `healthcheck`, then every client
//! command of `lumio-cli`, in the order `lumio --help` lists them.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use lumio_cli::cli::ClientCommand;

/// After `lumio server --help`: the settings that are environment variables only, so that
/// no secret is ever on a command line (where `ps` shows it).
const SERVER_HELP: &str = "\
ENVIRONMENT (no flag, so the value stays out of `ps`):
  LUMIO_MASTER_KEY           the base64 master key itself, instead of --master-key-file
  LUMIO_PREVIOUS_MASTER_KEY  a base64 master key being rotated away from
  LUMIO_BOOTSTRAP_TOKEN      the first instance-admin token, on an empty database
                             [default: one is generated into DATA_DIR/admin-token]
  LUMIO_KMS_TOKEN            the KMS token, instead of --kms-token-file

EXAMPLES:
  lumio server --data-dir /var/lib/lumio
  lumio server admin-token --data-dir /var/lib/lumio   print the first admin token";

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the Lumio platform (HTTP API, dashboard, action runtime).
    #[command(after_help = SERVER_HELP)]
    Server(ServerArgs),
    /// Check that the server on this machine (or --url) is ready: exit 0, else 1.
    Healthcheck(crate::server::HealthcheckArgs),
    #[command(flatten)]
    Client(ClientCommand),
}

/// Options of `lumio server`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ServerArgs {
    #[command(subcommand)]
    pub command: Option<crate::server::ServerCommand>,
    /// Address to listen on.
    #[arg(long, env = "LUMIO_LISTEN", default_value = lumio_server::DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// Directory for the SQLite database, the generated master key and the admin token.
    #[arg(long, env = "LUMIO_DATA_DIR", default_value = ".lumio")]
    pub data_dir: PathBuf,
    /// `postgres://…` or `sqlite://…` (default: SQLite under the data directory).
    #[arg(long, env = "LUMIO_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// File holding the base64 master key (default: generated under the data directory).
    #[arg(long, env = "LUMIO_MASTER_KEY_FILE")]
    pub master_key_file: Option<PathBuf>,
    /// A master key being rotated away from (repeatable): it opens the secrets it sealed,
    /// and at start every secret is sealed again under the current key.
    #[arg(long = "previous-master-key-file", value_name = "FILE")]
    pub previous_master_key_files: Vec<PathBuf>,
    /// Unseal with an OpenBao/Vault transit key instead of a key file: its URL,
    /// http(s)://HOST:PORT/v1/<mount>/keys/<name>. The database holds the master keys only
    /// wrapped by it; the server refuses to start while the KMS is unreachable.
    #[arg(
        long,
        env = "LUMIO_KMS_TRANSIT",
        value_name = "URL",
        conflicts_with = "master_key_file"
    )]
    pub kms_transit: Option<String>,
    /// File holding the KMS token (mode 0600) [default: LUMIO_KMS_TOKEN].
    #[arg(
        long,
        env = "LUMIO_KMS_TOKEN_FILE",
        value_name = "FILE",
        requires = "kms_transit"
    )]
    pub kms_token_file: Option<PathBuf>,
    /// Start even if a master key file can be read by its group or others (refused
    /// otherwise, as ssh refuses such a key); the server logs a warning at every start.
    #[arg(long, env = "LUMIO_ALLOW_INSECURE_MASTER_KEY_FILE")]
    pub allow_insecure_master_key_file: bool,
    /// Let `ctx.fetch` reach private, loopback and link-local addresses (local development).
    #[arg(long)]
    pub allow_private_fetch: bool,
    /// Most action invocations in flight at once (queued, running or awaiting a fetch or
    /// timer); beyond it a call answers 503 `overloaded` at once [default: 10000]. It bounds
    /// their number, not their memory: one awaiting a fetch holds about 70 KB, one
    /// holding big values up to its 64 MiB limit; --runtime-memory bounds the total.
    #[arg(long, env = "LUMIO_MAX_INFLIGHT_ACTIONS", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_inflight_actions: Option<u32>,
    /// MiB the JavaScript heaps of all action invocations in flight may hold together;
    /// beyond it an invocation that allocates ends `out_of_memory` [default: half of the
    /// machine's or container's memory, at least 256, at most 32768].
    #[arg(long, env = "LUMIO_RUNTIME_MEMORY", value_name = "MiB", value_parser = clap::value_parser!(u64).range(16..))]
    pub runtime_memory: Option<u64>,
    /// MiB one extension's invocations in flight may hold together, so that one
    /// extension cannot take the others' memory [default: a quarter of --runtime-memory].
    #[arg(long, env = "LUMIO_RUNTIME_MEMORY_PER_EXTENSION", value_name = "MiB", value_parser = clap::value_parser!(u64).range(16..))]
    pub runtime_memory_per_extension: Option<u64>,
    /// Most action invocations in flight at once for one extension: beyond it that
    /// extension's calls answer 503 `overloaded` while the others are served; one action
    /// may hold half of it [default: a quarter of --max-inflight-actions].
    #[arg(long, env = "LUMIO_MAX_INFLIGHT_PER_EXTENSION", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_inflight_per_extension: Option<u32>,
    /// Client-plane calls per second per extension; beyond it a call answers 429 with
    /// `Retry-After` [default: 10000; 0: no limit].
    #[arg(long, env = "LUMIO_CLIENT_RATE_LIMIT")]
    pub client_rate_limit: Option<u32>,
    /// Longest wait in seconds for a database connection: while PostgreSQL is unreachable,
    /// management calls answer 503 within it [default: 4].
    #[arg(long, env = "LUMIO_DB_TIMEOUT", value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=60))]
    pub db_timeout: Option<u64>,
    /// Serve HTTPS with this PEM certificate chain (with --tls-key); SIGHUP reloads both.
    #[arg(
        long,
        env = "LUMIO_TLS_CERT",
        value_name = "FILE",
        requires = "tls_key"
    )]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(
        long,
        env = "LUMIO_TLS_KEY",
        value_name = "FILE",
        requires = "tls_cert"
    )]
    pub tls_key: Option<PathBuf>,
    /// Serve /metrics only to requests with `Authorization: Bearer TOKEN` [default: open].
    #[arg(
        long,
        env = "LUMIO_METRICS_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub metrics_token: Option<String>,
    /// Log lines as `text` or `json` (one JSON object per line).
    #[arg(
        long,
        env = "LUMIO_LOG_FORMAT",
        value_name = "FORMAT",
        default_value = "text"
    )]
    pub log_format: lumio_server::LogFormat,
    /// Remove audit records older than DAYS (checked at start and hourly; on PostgreSQL
    /// whole days are dropped at once) [default: keep forever].
    #[arg(long, env = "LUMIO_AUDIT_RETENTION_DAYS", value_name = "DAYS", value_parser = clap::value_parser!(u32).range(1..=36500))]
    pub audit_retention_days: Option<u32>,
    /// Remove action invocation logs (`lumio logs`) older than DAYS; at most 10,000 are
    /// kept per extension and environment either way (checked at start and hourly).
    #[arg(long, env = "LUMIO_LOG_RETENTION_DAYS", value_name = "DAYS", default_value_t = lumio_server::DEFAULT_LOG_RETENTION_DAYS, value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub log_retention_days: u32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};
    use lumio_cli::cli::Cli;

    #[test]
    fn definitions_are_consistent() {
        Cli::<Command>::command().debug_assert();
    }

    #[test]
    fn server_and_client_commands_parse() {
        let parse = |args: &[&str]| Cli::<Command>::try_parse_from(args).unwrap().command;
        assert!(matches!(parse(&["lumio", "server"]), Command::Server(_)));
        assert!(matches!(
            parse(&["lumio", "env", "list"]),
            Command::Client(ClientCommand::Env { .. })
        ));
    }

    #[test]
    fn the_client_default_url_is_where_the_server_listens_by_default() {
        assert_eq!(
            lumio_cli::config::DEFAULT_URL,
            format!("http://{}", lumio_server::DEFAULT_LISTEN)
        );
    }
}
