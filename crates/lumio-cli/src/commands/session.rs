//! `lumio whoami` and `lumio logout`: who the token in use is, and forgetting the saved
//! one. Neither prints a token.

use lumio_api::paths;
use lumio_api::tokens::WhoAmI;
use serde::Serialize;

use crate::cli::SessionArgs;
use crate::client::Client;
use crate::config::{self, Connection};
use crate::output;

/// `lumio whoami --json`: the server's answer and the server it came from.
#[derive(Serialize)]
struct Identity<'a> {
    url: &'a str,
    #[serde(flatten)]
    whoami: &'a WhoAmI,
}

pub fn whoami(args: &SessionArgs) -> anyhow::Result<()> {
    let connection = Connection::resolve(&args.conn)?;
    let client = Client::new(&connection, connection.require_token()?)?;
    let url = connection.url;
    let whoami: WhoAmI = client.get(paths::WHOAMI)?;
    if args.json {
        return output::json(&Identity {
            url: &url,
            whoami: &whoami,
        });
    }
    let kind = if whoami.admin {
        "an instance-admin token".to_owned()
    } else {
        match (&whoami.role, &whoami.extension) {
            (Some(role), Some(ext)) => format!(
                "a {} token of extension {}",
                output::cell(role),
                output::cell(ext)
            ),
            _ => "a token".to_owned(),
        }
    };
    let scope = match &whoami.env {
        Some(env) => format!("{} only", output::cell(env)),
        None => "both environments".to_owned(),
    };
    let expiry = whoami.expires_at.map_or_else(
        || "never expires".to_owned(),
        |at| format!("expires {}", output::timestamp(at)),
    );
    output::line(format!(
        "{url}: {kind} (id {}), {scope}, {expiry}",
        output::cell(&whoami.token_id)
    ))
}

pub fn logout(args: &SessionArgs) -> anyhow::Result<()> {
    let dir = config::config_dir()?;
    let wanted = args
        .conn
        .url
        .as_deref()
        .map(config::normalize_url)
        .transpose()?;
    let Some(saved) = config::load_credentials(&dir)? else {
        if args.json {
            return output::json(&serde_json::json!({ "forgotten": null }));
        }
        return output::line("No saved token: nothing to forget.");
    };
    let saved_url = config::normalize_url(&saved.url)?;
    if wanted.as_ref().is_some_and(|url| *url != saved_url) {
        if args.json {
            return output::json(&serde_json::json!({ "forgotten": null }));
        }
        return output::line(format!(
            "The saved token is for {saved_url}, not {}: nothing forgotten.",
            wanted.unwrap_or_default()
        ));
    }
    let path = config::forget_credentials(&dir)?;
    if args.json {
        return output::json(&serde_json::json!({ "forgotten": saved_url }));
    }
    output::line(format!("Forgot the token for {saved_url}."))?;
    output::note(format!(
        "Removed {}. The token itself still works until it is revoked \
         (`lumio tokens revoke ID`).",
        path.display()
    ));
    Ok(())
}
