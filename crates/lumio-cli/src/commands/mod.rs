//! One module per resource. Each command parses its input, resolves where to send it,
//! makes its requests and prints the result; nothing here knows HTTP details.

mod access;
mod actions;
mod admin;
mod audit;
mod confirm;
mod deploy;
mod dev;
mod dev_watch;
mod env;
mod env_bind;
mod env_due;
mod env_set;
mod extensions;
mod init;
mod input;
mod login;
mod logs;
mod manual;
mod parity;
mod session;
mod tokens;
mod typecheck;
mod webhooks;

use std::path::Path;

use lumio_api::paths;
use lumio_core::{Environment, ExtensionSlug, SecretName};

use crate::cli::{ClientCommand, CommonArgs, ConnArgs};
use crate::client::Client;
use crate::config::{self, Connection};
use crate::error::CliError;

/// Runs the command the user asked for; `C` is the binary's whole set of subcommands
/// (`lumio completions` and `lumio man` describe all of them).
pub fn run<C: clap::Subcommand>(command: ClientCommand) -> anyhow::Result<()> {
    match command {
        ClientCommand::Login(args) => login::run(args),
        ClientCommand::Whoami(args) => session::whoami(&args),
        ClientCommand::Logout(args) => session::logout(&args),
        ClientCommand::Extensions { common, command } => extensions::run(&common, command),
        ClientCommand::Admin { common, command } => admin::run(&common, command),
        ClientCommand::Access { common, command } => access::run(&common, command),
        ClientCommand::Tokens { common, command } => tokens::run(&common, command),
        ClientCommand::Webhooks { common, command } => webhooks::run(&common, command),
        ClientCommand::Env { common, command } => env::run(&common, command),
        ClientCommand::Audit(args) => audit::run(args),
        ClientCommand::Init(args) => init::run(args),
        ClientCommand::Deploy(args) => deploy::run(args),
        ClientCommand::Dev(args) => dev::run(args),
        ClientCommand::Run(args) => actions::run(args),
        ClientCommand::Logs(args) => logs::run(args),
        ClientCommand::Completions { shell } => manual::completions::<C>(shell),
        ClientCommand::Man => manual::man_page::<C>(),
    }
}

/// A client for the server and token the options name; fails before any request when
/// there is no token.
fn connect(conn: &ConnArgs) -> anyhow::Result<Client> {
    let connection = Connection::resolve(conn)?;
    let token = connection.require_token()?;
    Client::new(&connection, token)
}

/// A secret name from the command line, refused with `lumio_core`'s message if invalid.
fn secret_name(input: &str) -> anyhow::Result<SecretName> {
    SecretName::parse(input).map_err(|err| CliError::usage(err.to_string()).into())
}

/// A command working inside one extension and environment.
struct Scoped {
    client: Client,
    extension: ExtensionSlug,
    environment: Environment,
    json: bool,
}

impl Scoped {
    /// Resolves environment, extension and connection, in that order, all before any
    /// request is made.
    fn resolve(common: &CommonArgs) -> anyhow::Result<Self> {
        Self::resolve_in(common, None)
    }

    /// Like [`Scoped::resolve`], looking for `lumio.json` from `dir` first (`lumio deploy DIR`).
    fn resolve_in(common: &CommonArgs, dir: Option<&Path>) -> anyhow::Result<Self> {
        let environment = config::environment(common)?;
        let extension = config::extension_in(common, dir)?;
        let client = connect(&common.conn)?;
        Ok(Self {
            client,
            extension,
            environment,
            json: common.json,
        })
    }

    /// Like [`Scoped::resolve`] for the client plane: no token is needed or sent.
    fn resolve_anonymous(common: &CommonArgs) -> anyhow::Result<Self> {
        let environment = config::environment(common)?;
        let extension = config::extension(common)?;
        let client = Client::anonymous(&Connection::resolve(&common.conn)?)?;
        Ok(Self {
            client,
            extension,
            environment,
            json: common.json,
        })
    }

    /// The API's paths under this extension and environment.
    fn api(&self) -> paths::Scope<'_> {
        paths::Scope {
            extension: &self.extension,
            environment: self.environment,
        }
    }

    /// `my-ext/staging`, for messages.
    fn place(&self) -> String {
        format!("{}/{}", self.extension, self.environment)
    }
}
