//! `lumio login`: checks a token with `GET /api/v1/whoami`, then saves it with the URL.

use std::io::{IsTerminal, Read};

use anyhow::Context;
use lumio_api::tokens::WhoAmI;
use lumio_api::{paths, ErrorCode};
use zeroize::Zeroizing;

use crate::cli::LoginArgs;
use crate::client::Client;
use crate::config::{self, Connection, Credentials, DEFAULT_URL};
use crate::error::{CliError, Failure};
use crate::output;

pub fn run(args: LoginArgs) -> anyhow::Result<()> {
    let url = config::normalize_url(args.conn.url.as_deref().unwrap_or(DEFAULT_URL))?;
    let connection = Connection {
        url: url.clone(),
        token: None,
        ca_cert: args.conn.ca_cert.clone(),
        insecure_http: args.conn.insecure_http,
    };
    // Checked before a token is read: plain http to another host is refused here too.
    crate::transport::check(&url::Url::parse(&url)?, connection.insecure_http)?;
    let token = match args.conn.token.filter(|t| !t.is_empty()) {
        Some(token) => Zeroizing::new(token),
        None => read_token()?,
    };
    let dir = config::config_dir()?;
    let client = Client::new(&connection, token.clone())?;
    let whoami: WhoAmI = client
        .get(paths::WHOAMI)
        .map_err(|err| refused_token(err, &url))?;

    let creds = Credentials {
        url: url.clone(),
        token: token.to_string(),
        insecure_http: connection.insecure_http,
    };
    let path = config::save_credentials(&dir, &creds)?;
    if args.json {
        return output::json(&whoami);
    }
    output::line(format!("Logged in to {url} as {}", identity(&whoami)))?;
    output::note(format!("Credentials saved to {}", path.display()));
    Ok(())
}

/// Reads the token from standard input: a hidden prompt on a terminal, else all of it.
fn read_token() -> anyhow::Result<Zeroizing<String>> {
    let token = if std::io::stdin().is_terminal() {
        Zeroizing::new(rpassword::prompt_password("Token: ").context("cannot read the token")?)
    } else {
        let mut text = Zeroizing::new(String::new());
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the token from standard input")?;
        text
    };
    let trimmed = Zeroizing::new(token.trim().to_owned());
    if trimmed.is_empty() || trimmed.contains(char::is_whitespace) {
        return Err(CliError::new("no token given")
            .with_failure(Failure::Auth)
            .with_hint("pass --token TOKEN, set LUMIO_TOKEN, or pipe the token on standard input")
            .into());
    }
    Ok(trimmed)
}

/// A refused token at login needs different advice than "run lumio login".
fn refused_token(err: anyhow::Error, url: &str) -> anyhow::Error {
    match err.downcast::<CliError>() {
        Ok(cli) if cli.code == Some(ErrorCode::Unauthorized) => {
            let mut refused = CliError::new(format!("{url} refused the token: {}", cli.message))
                .with_hint(
                    "check the token; a new server writes its first admin token to \
                     <data-dir>/admin-token",
                )
                .with_failure(Failure::Auth);
            refused.code = cli.code;
            refused.into()
        }
        Ok(cli) => cli.into(),
        Err(err) => err,
    }
}

/// "instance admin" or "owner of my-ext", from a whoami answer.
fn identity(whoami: &WhoAmI) -> String {
    if whoami.admin {
        return "an instance admin".to_owned();
    }
    match (&whoami.role, &whoami.extension) {
        (Some(role), Some(ext)) => format!("{role} of {}", output::cell(ext)),
        _ => format!("token {}", output::cell(&whoami.token_id)),
    }
}
