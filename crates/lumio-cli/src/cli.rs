//! The command line, as clap derive definitions. Only shapes live here: names, secret names
//! and environments stay plain strings so `lumio_core`'s parsers give the error message.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use lumio_api::AuditEvent;

/// After `lumio --help`: where options go, and what the exit status means.
const TOP_HELP: &str = "\
The options --extension, --env, --json, --url, --token and --ca-cert may come anywhere: \
lumio --json --extension my-ext env list.

EXIT STATUS:
  0  success
  1  any other failure (bad input in a file or on standard input, unreadable file, server error); also `env diff` when the environments differ
  2  usage: the command line is wrong: an unknown option, or a bad value (--env prod, a bad name or URL, no extension selected)
  3  auth: no token, a bad or expired one, or one without the right
  4  not found: no such extension, secret, version, token or action
  5  conflict: changed by someone else first, or already exists
  6  unavailable: the server is unreachable, overloaded or without its database; retry
  7  action failed: `lumio run` reached the action and it threw, timed out or was stopped
  8  tampered: `lumio audit verify` found a record changed, removed or inserted";

/// Lumio: host extensions and their secrets.
// (Not in the doc comment, which is the help's text:) `C` is the binary's set of
// subcommands, `ClientCommand` for `lumio-client`; the `lumio` binary's adds `server`
// and `healthcheck` ahead of them.
#[derive(Debug, Parser)]
#[command(name = "lumio", version, after_help = TOP_HELP)]
pub struct Cli<C: Subcommand = ClientCommand> {
    #[command(subcommand)]
    pub command: C,
}

/// The commands that are HTTP clients of a server (and their completions and manual).
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Verify a token against a Lumio server and store it for later commands.
    #[command(after_help = "EXAMPLES:
  lumio login --url https://lumio.example.com --token \"$(cat admin-token)\"
  lumio login --url https://lumio.example.com < token-file
  lumio login --url http://10.0.0.5:7311 --insecure-http   (token in the clear: tests only)")]
    Login(LoginArgs),
    /// Show who the token in use is: instance admin or role and extension, environment
    /// scope, expiry, and the server.
    Whoami(SessionArgs),
    /// Forget the token `lumio login` saved (with --url: only if saved for that server).
    /// The token itself works until `lumio tokens revoke`.
    Logout(SessionArgs),
    /// Manage extensions (instance admins).
    Extensions {
        #[command(flatten)]
        common: CommonArgs,
        #[command(subcommand)]
        command: ExtensionsCommand,
    },
    /// Operate the instance (instance admins): master-key rotation.
    #[command(after_help = "EXAMPLES:
  lumio admin rotate-master-key            rotate, and wait until every secret is rewrapped
  lumio admin rotate-master-key --status   the keyring's state only")]
    Admin {
        #[command(flatten)]
        common: CommonArgs,
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Support access for Lumio staff: requested by an admin, approved by the owner.
    #[command(after_help = "EXAMPLES:
  lumio access request --extension acme --reason \"debug failing deploys, ticket 4711\" --for 1h
  lumio access list --extension acme
  lumio access approve 0123456789abcdef --extension acme
  lumio access revoke 0123456789abcdef --extension acme")]
    Access {
        #[command(flatten)]
        common: CommonArgs,
        #[command(subcommand)]
        command: AccessCommand,
    },
    /// Create, list and revoke tokens.
    // `--env` is not staging by default here: a new token without it acts in both.
    #[command(mut_arg("environment", |arg| arg.help(
        "The one environment the new token may act in: staging or production \
         [default: both]"
    )))]
    #[command(after_help = "EXAMPLES:
  lumio tokens create --extension my-ext --role developer --env staging --expires-in 7d
  lumio tokens list --extension my-ext
  lumio tokens revoke 0123456789abcdef")]
    Tokens {
        #[command(flatten)]
        common: CommonArgs,
        #[command(subcommand)]
        command: TokensCommand,
    },
    /// Receivers of the extension's change events (secret changes, deploys, tokens, expiry
    /// notices), signed as Standard Webhooks sign them and delivered at least once.
    // `--env` is not staging by default here: a receiver without it hears both.
    #[command(mut_arg("environment", |arg| arg.help(
        "Only this environment's events (and extension-wide ones): staging or production \
         [default: both]"
    )))]
    #[command(after_help = "EXAMPLES:
  lumio webhooks add https://hooks.example.com/lumio --events 'secret.*,deploy'
  lumio webhooks add https://hooks.example.com/prod --env production
  lumio webhooks list
  lumio webhooks test wh_0123456789abcdef
  lumio webhooks deliveries --failed
  lumio webhooks redeliver 42
  lumio webhooks remove wh_0123456789abcdef")]
    Webhooks {
        #[command(flatten)]
        common: CommonArgs,
        #[command(subcommand)]
        command: WebhooksCommand,
    },
    /// Manage an extension's secrets in one environment.
    #[command(after_help = "EXAMPLES:
  lumio env set STRIPE_KEY sk_live_...            staging by default
  lumio env set TLS_KEY --env production < key.pem
  lumio env set TLS_KEY --from-file key.pem
  lumio env set A=1 B=2                           several in one atomic step
  lumio env list --env production --json
  lumio env import .env
  lumio env rollback STRIPE_KEY 3")]
    Env {
        #[command(flatten)]
        common: CommonArgs,
        #[command(subcommand)]
        command: EnvCommand,
    },
    /// Show the extension's audit log, newest first.
    #[command(after_help = "EXAMPLES:
  lumio audit --limit 20
  lumio audit --secret STRIPE_KEY --event secret.get
  lumio audit --env production --json
  lumio audit verify                  exit 8 naming the first tampered record
  lumio audit export --format jsonl --since 2026-01-01T00:00:00Z > audit.jsonl")]
    Audit(AuditArgs),
    /// Start a new extension project: lumio.json, server/functions.ts, tsconfig.json and
    /// package.json (refuses to overwrite any of them). Needs no server.
    #[command(after_help = "EXAMPLES:
  lumio init my-ext                  a new directory my-ext/ for extension my-ext
  lumio init --extension my-ext      in the current directory")]
    Init(InitArgs),
    /// Upload the extension's server/ code (every server/**/*.ts) to an environment.
    #[command(after_help = "EXAMPLES:
  lumio deploy                     the extension in this directory, to staging
  lumio deploy --typecheck         run the project's tsc first; a type error deploys nothing
  lumio deploy ./my-ext --env production")]
    Deploy(DeployArgs),
    /// Develop against staging: deploy now and on every save of server/**/*.ts
    /// (type-checked first when the project has TypeScript), and follow staging's logs
    /// with each invocation's secret reads. Ctrl-C stops it.
    // Staging only, and for people: --env production and --json are refused.
    #[command(mut_arg("environment", |arg| arg.help(
        "Environment: staging, the only one `lumio dev` deploys to [default: staging]"
    )))]
    #[command(mut_arg("json", |arg| arg.hide(true)))]
    #[command(after_help = "EXAMPLES:
  lumio dev                        the extension in this directory
  lumio dev ./my-ext --no-typecheck")]
    Dev(DevArgs),
    /// Call an action as a client would and print its JSON result.
    #[command(after_help = "EXAMPLES:
  lumio run functions:callExternalApi '{\"query\":\"weather\"}'
  lumio run functions:ping --env production --json")]
    Run(RunArgs),
    /// Show recent action invocations (through any server), their masked console output
    /// and the secrets they read, newest first; or follow new ones as they come.
    #[command(after_help = "EXAMPLES:
  lumio logs --limit 50
  lumio logs --follow
  lumio logs --follow --action functions:charge --since 10m
  lumio logs --follow --json | jq .outcome")]
    Logs(LogsArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell or elvish).
    #[command(after_help = "EXAMPLES:\n  \
        lumio completions bash > ~/.local/share/bash-completion/completions/lumio\n  \
        lumio completions zsh > \"${fpath[1]}/_lumio\"\n  \
        lumio completions fish > ~/.config/fish/completions/lumio.fish")]
    Completions { shell: clap_complete::Shell },
    /// Print the manual page (roff), e.g. `lumio man | man -l -`.
    Man,
}

/// Where the server is and who we are to it.
#[derive(Debug, Clone, Args)]
pub struct ConnArgs {
    /// Lumio server URL [default: the one saved by `lumio login`, else http://127.0.0.1:7311].
    #[arg(long, env = "LUMIO_URL", global = true)]
    pub url: Option<String>,
    /// API token [default: the one saved by `lumio login`].
    // `hide_env_values` keeps the token out of `--help`.
    #[arg(long, env = "LUMIO_TOKEN", global = true, hide_env_values = true)]
    pub token: Option<String>,
    /// PEM file of the CA that signed the server's certificate, trusted beside the
    /// system's (for a private CA), or of the server's own certificate (self-signed:
    /// trusted as that very certificate).
    #[arg(long, env = "LUMIO_CA_CERT", global = true, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// Allow an http:// URL to a host other than this machine: the token and every
    /// secret sent with it cross the network unencrypted.
    #[arg(long, env = "LUMIO_INSECURE_HTTP", global = true)]
    pub insecure_http: bool,
}

/// Options shared by every client command.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// Extension to act on [default: LUMIO_EXTENSION, else lumio.json here or in a parent].
    #[arg(long, global = true)]
    pub extension: Option<String>,
    /// Environment: staging or production [default: staging].
    #[arg(long = "env", env = "LUMIO_ENV", global = true)]
    pub environment: Option<String>,
    /// Print the server's JSON answer instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(flatten)]
    pub conn: ConnArgs,
}

/// Options of `lumio login`.
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Print the server's JSON answer instead of text.
    #[arg(long)]
    pub json: bool,
    /// Without `--token`, the token is read from standard input (hidden prompt on a terminal).
    #[command(flatten)]
    pub conn: ConnArgs,
}

/// Options of `lumio whoami` and `lumio logout`.
#[derive(Debug, Args)]
pub struct SessionArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub conn: ConnArgs,
}

#[derive(Debug, Subcommand)]
pub enum ExtensionsCommand {
    /// Create an extension and print its one-time claim code (instance admins). Give the
    /// code to the customer: `lumio extensions claim CODE` makes their owner token, which
    /// staff never see; once claimed, staff cannot deploy, set secrets or mint tokens there.
    Create {
        /// Lowercase letters, digits and '-', starting with a letter.
        name: String,
        /// How long the claim code works: 30m, 12h, 7d… [default: 24h]
        #[arg(long, value_name = "DURATION")]
        claim_expires_in: Option<String>,
    },
    /// List the extensions your token can see, with who claimed them.
    List,
    /// Redeem a claim code: become the extension's owner. The owner token is saved like
    /// `lumio login` saves one (replacing the saved one); no other token is needed.
    Claim {
        /// The code `lumio extensions create` printed [default: read from standard input].
        code: Option<String>,
        /// A label for the owner token.
        #[arg(long)]
        label: Option<String>,
        /// Print the token instead of saving it.
        #[arg(long)]
        no_save: bool,
    },
    /// Issue a new claim code for an extension nobody has claimed yet (instance admins).
    ClaimCode {
        name: String,
        /// How long the claim code works: 30m, 12h, 7d… [default: 24h]
        #[arg(long, value_name = "DURATION")]
        claim_expires_in: Option<String>,
    },
    /// Suspend an extension: its actions answer `extension_suspended` (instance admins).
    Suspend { name: String },
    /// Resume a suspended extension (instance admins).
    Resume { name: String },
    /// Delete an extension with every secret version, deployment, token and audit record
    /// (instance admins). Nothing of it can be read afterwards. Asks on a terminal.
    Delete {
        name: String,
        /// Confirm without asking (scripts): this cannot be undone.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AccessCommand {
    /// Ask the extension's owner for support access (instance admins): a developer role
    /// there, from their approval, for the time given.
    Request {
        /// Why; the owner reads it before approving.
        #[arg(long)]
        reason: String,
        /// How long, once approved: 30m, 2h, 1d… (at most 7d).
        #[arg(long = "for", value_name = "DURATION")]
        duration: String,
    },
    /// The extension's support requests and grants (owners, and staff).
    List,
    /// Approve a pending request (owners).
    Approve { id: String },
    /// End a request or grant at once (owners, or the admin who asked).
    Revoke { id: String },
}

#[derive(Debug, Subcommand)]
pub enum WebhooksCommand {
    /// Add a receiver (owners): every change event, or those --events names. It must
    /// answer now; its signing secret is printed once.
    Add {
        /// http(s) URL of the receiver (a public address, unless the server runs with
        /// --allow-private-fetch).
        // Its own id: `url` is the global --url of the Lumio server.
        #[arg(id = "receiver_url", value_name = "URL")]
        receiver: String,
        /// Comma-separated: * (default), a family such as secret.*, or event names
        /// (`lumio audit --help` lists them).
        #[arg(long, value_name = "EVENTS")]
        events: Option<String>,
    },
    /// The extension's receivers (members).
    List,
    /// Remove a receiver (owners); what it was still owed is cancelled.
    Remove {
        /// The receiver's id, as `lumio webhooks list` shows it.
        id: String,
    },
    /// Send a receiver a signed webhook.test event now; exit 1 unless it answers 2xx.
    Test {
        /// The receiver's id, as `lumio webhooks list` shows it.
        id: String,
    },
    /// Deliveries, newest first: state, attempts, last answer or error, next attempt.
    Deliveries {
        /// Only deliveries not delivered that failed at least once.
        #[arg(long)]
        failed: bool,
        /// How many (default 50, at most 500).
        #[arg(long)]
        limit: Option<i64>,
    },
    /// Send a delivered or failed delivery again, with the same webhook-id.
    Redeliver {
        /// The delivery's id, as `lumio webhooks deliveries` shows it.
        id: i64,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Seal every secret under a new master key while the server keeps serving: new
    /// versions at once on every server, stored ones rewrapped in the background.
    RotateMasterKey {
        /// Show the keyring's state and whether a rotation is running; rotate nothing.
        #[arg(long)]
        status: bool,
        /// Return once the rotation started instead of waiting for the rewrap.
        #[arg(long, conflicts_with = "status")]
        no_wait: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Create a token for one extension (set with --extension), or with --admin an
    /// instance-admin token; it is printed only once. --env limits it to one environment.
    Create {
        /// owner, developer or viewer.
        #[arg(long, required_unless_present = "admin")]
        role: Option<String>,
        /// An instance-admin token instead (admins only; no --extension or --role).
        #[arg(long, conflicts_with = "role")]
        admin: bool,
        /// Let the token expire after this long: a whole number and a unit, e.g. 30m, 12h, 7d.
        #[arg(long, value_name = "D")]
        expires_in: Option<String>,
        /// A note to recognise the token by later.
        #[arg(long)]
        label: Option<String>,
    },
    /// List live tokens (id, role, environment, label, created, expires, last used);
    /// never their secrets. Admins see all, owners their extension's.
    List,
    /// Revoke a token at once, on every server sharing the database.
    Revoke {
        /// The token's id, as `lumio tokens list` shows it.
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum EnvCommand {
    /// Set a secret: `NAME VALUE`, or `NAME` alone to read the value from standard input
    /// (hidden prompt on a terminal) or --from-file, so multi-line values work and the
    /// value stays out of shell history. `A=1 B=2` sets several in one atomic step.
    Set {
        /// NAME, NAME VALUE (prefer standard input or --from-file for real secrets), or
        /// NAME=VALUE pairs.
        #[arg(required = true, value_name = "NAME[=VALUE]")]
        words: Vec<String>,
        /// Read the value of NAME from this file (one trailing line break dropped, as
        /// from standard input).
        #[arg(long, value_name = "FILE")]
        from_file: Option<PathBuf>,
        /// Bind the secret to a host its value may be sent to by ctx.fetch (repeatable;
        /// `*.example.com` allows subdomains). Without it, the binding stays as it is.
        #[arg(long = "allow-host", value_name = "HOST")]
        allow_host: Vec<String>,
        #[command(flatten)]
        due: DueArgs,
    },
    /// Change only a secret's due dates, without its value (no new version; the rotation
    /// clock keeps its start): --expires-in D | --expires-at T | --no-expiry, and/or
    /// --rotate-every D|off.
    DueDates {
        name: String,
        #[command(flatten)]
        due: DueArgs,
        /// Remove the current version's expiry.
        #[arg(long, conflicts_with_all = ["expires_in", "expires_at"])]
        no_expiry: bool,
    },
    /// What needs attention in both environments: expired secrets, rotations overdue, and
    /// expiries or rotations due within --within. Exits 1 when something expired or is
    /// overdue (for CI), 0 otherwise.
    Due {
        /// How far ahead counts as due: a whole number and a unit (s, m, h, d, w).
        #[arg(long, value_name = "DURATION", default_value = "14d")]
        within: String,
    },
    /// Change only the hosts a secret's value may be sent to by ctx.fetch, without its
    /// value: `--allow-host HOST` (repeatable) replaces the binding, `--clear` removes it.
    Bind {
        name: String,
        #[arg(
            long = "allow-host",
            value_name = "HOST",
            required_unless_present = "clear"
        )]
        allow_host: Vec<String>,
        /// Unbind: the value may again be sent to any host.
        #[arg(long, conflicts_with = "allow_host")]
        clear: bool,
    },
    /// List secret names with version, allowed hosts, due dates and last change; values
    /// are never shown. Names due (within 14 days), overdue or expired are marked.
    List,
    /// Delete a secret (it can be rolled back); with --purge, erase every version (asks on
    /// a terminal).
    Delete {
        name: String,
        /// Also erase every stored version, so it cannot be rolled back (owners).
        #[arg(long)]
        purge: bool,
        /// Confirm --purge without asking (scripts): it cannot be undone.
        #[arg(long, requires = "purge")]
        yes: bool,
    },
    /// Set every pair of a .env file in one atomic step (`-` reads standard input).
    Import { file: PathBuf },
    /// Show a secret's versions (never values).
    History { name: String },
    /// Make an earlier version current again (as a new version).
    Rollback {
        name: String,
        #[arg(value_parser = clap::value_parser!(i64).range(1..))]
        version: i64,
    },
    /// Compare two environments: names set in only one, and whether the values of names
    /// in both are equal (compared on the server; no value is shown). Exits 1 when they
    /// differ, 0 when they are the same.
    Diff {
        /// staging or production.
        first: String,
        /// The other one.
        second: String,
    },
    /// Copy values from one environment to another on the server (the CLI never sees
    /// them), all or nothing; names whose value is already the same are skipped.
    Copy {
        /// The secrets to copy; each must be set in --from.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        names: Vec<String>,
        /// Copy every secret set in --from.
        #[arg(long)]
        all: bool,
        /// The environment to copy from.
        #[arg(long, value_name = "ENV")]
        from: String,
        /// The environment to copy to.
        #[arg(long, value_name = "ENV")]
        to: String,
    },
}

/// The due dates `lumio env set` and `lumio env due-dates` take. Durations are a whole
/// number and a unit: s, m, h, d or w (30d, 12h, 6w), any length.
#[derive(Debug, Default, Args)]
pub struct DueArgs {
    /// The (new) version expires this long from now, by the server's clock, e.g. 90d. A
    /// new version set without --expires-in/--expires-at never expires: an expiry is not
    /// carried over from the previous version.
    #[arg(long, value_name = "DURATION", conflicts_with = "expires_at")]
    pub expires_in: Option<String>,
    /// The (new) version expires at this time: RFC 3339 (2027-01-01T09:00:00Z) or a date
    /// (2027-01-01, midnight UTC).
    #[arg(long, value_name = "TIME")]
    pub expires_at: Option<String>,
    /// Rotate the secret every DURATION, e.g. 30d; `off` stops. Kept across versions until
    /// changed; each new version restarts the clock (rotate by = set time + period).
    #[arg(long, value_name = "DURATION|off")]
    pub rotate_every: Option<String>,
}

impl DueArgs {
    pub fn is_empty(&self) -> bool {
        self.expires_in.is_none() && self.expires_at.is_none() && self.rotate_every.is_none()
    }
}

/// Options of `lumio audit`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub command: Option<AuditCommand>,
    /// How many entries to show (at most 1000).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub limit: u32,
    /// Only entries about this secret.
    #[arg(long)]
    pub secret: Option<String>,
    /// Only entries of this event, e.g. secret.set or secret.get (--help lists them all).
    #[arg(long, value_name = "EVENT", long_help = event_help())]
    pub event: Option<String>,
    /// Only entries older than this id (to page back; see the end of the output).
    #[arg(long, value_parser = clap::value_parser!(i64).range(0..))]
    pub before: Option<i64>,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// The `--event` help of `lumio audit --help`: every event the audit log records, with
/// its meaning.
pub fn event_help() -> String {
    let width = AuditEvent::ALL
        .iter()
        .map(|e| e.as_str().len())
        .max()
        .unwrap_or(0);
    let mut text = "Only entries of this event, one of:".to_owned();
    for event in AuditEvent::ALL {
        text.push_str(&format!(
            "\n  {:width$}  {}",
            event.as_str(),
            event.meaning()
        ));
    }
    text
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Walk the extension's audit hash chain (both environments); exit 8 naming the
    /// first record changed, removed or inserted.
    Verify {
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Print every record of the extension (both environments), oldest first, with its
    /// seq and hash, one JSON object per line (docs/audit-chain.md).
    Export {
        /// Output format; jsonl is the one there is.
        #[arg(long, value_parser = ["jsonl"], default_value = "jsonl")]
        format: String,
        /// Only records stamped at or after this time (RFC 3339, e.g. 2026-01-01T00:00:00Z).
        #[arg(long, value_name = "TIME")]
        since: Option<String>,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Print the extension's audit chain key (hex) for the offline verifier of
    /// docs/audit-chain.md. Owner tokens only; audited as audit.key_exported. Whoever
    /// holds it can forge links of this extension's chain: keep it away from the
    /// database's writers.
    ExportKey {
        #[command(flatten)]
        common: CommonArgs,
    },
}

/// Options of `lumio init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// The project's directory, created if missing.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// The extension's name, written to lumio.json [default: DIR's name].
    #[arg(long)]
    pub extension: Option<String>,
}

/// Options of `lumio deploy`.
#[derive(Debug, Args)]
pub struct DeployArgs {
    /// The extension's directory: its server/ holds the code, its lumio.json names the
    /// extension.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Run the project's TypeScript compiler (`tsc --noEmit -p DIR`, from its
    /// node_modules) first; any type error deploys nothing.
    #[arg(long)]
    pub typecheck: bool,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Options of `lumio dev`.
#[derive(Debug, Args)]
pub struct DevArgs {
    /// The extension's directory: its server/ holds the code, its lumio.json names the
    /// extension.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Deploy without type-checking, even when the project has TypeScript installed.
    #[arg(long)]
    pub no_typecheck: bool,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Options of `lumio run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The action, as `module:export`, e.g. functions:callExternalApi.
    pub action: String,
    /// The arguments, as one JSON object, e.g. '{"query":"x"}'.
    #[arg(default_value = "{}")]
    pub json_args: String,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Options of `lumio logs`.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// How many invocations to show (at most 200); with --follow, how many recent ones
    /// come before the new ones.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=200))]
    pub limit: u32,
    /// Keep printing invocations as they are made, through any server, until Ctrl-C
    /// (with --json: one JSON object per line).
    #[arg(long, short = 'f')]
    pub follow: bool,
    /// Only this action, as module:export.
    #[arg(long, value_name = "MODULE:EXPORT")]
    pub action: Option<String>,
    /// Only invocations since this time: RFC 3339 (2026-12-07T17:00:00Z) or a duration
    /// back from now (10m, 2h, 1d).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn definitions_are_consistent() {
        <Cli>::command().debug_assert();
    }

    #[test]
    fn common_options_work_after_the_subcommand() {
        let cli = <Cli>::try_parse_from([
            "lumio",
            "env",
            "set",
            "A",
            "--extension",
            "my-ext",
            "--env",
            "production",
        ])
        .unwrap();
        let ClientCommand::Env { common, .. } = cli.command else {
            panic!("not env")
        };
        assert_eq!(common.extension.as_deref(), Some("my-ext"));
        assert_eq!(common.environment.as_deref(), Some("production"));
    }
}
