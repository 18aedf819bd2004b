//! `lumio tokens create|list|revoke`. A new token goes alone to stdout, so
//! `TOKEN=$(lumio tokens create …)` works; everything else goes to stderr.

use chrono::{DateTime, Utc};
use lumio_api::paths;
use lumio_api::tokens::{CreateToken, CreatedToken, TokenList, TokenListQuery, TokenView};
use lumio_core::{ExtensionSlug, Role, TokenLifetime};

use super::connect;
use crate::cli::{CommonArgs, TokensCommand};
use crate::config;
use crate::error::CliError;
use crate::output;

pub fn run(common: &CommonArgs, command: TokensCommand) -> anyhow::Result<()> {
    match command {
        TokensCommand::Create {
            role,
            admin,
            expires_in,
            label,
        } => create(common, role.as_deref(), admin, expires_in, label),
        TokensCommand::List => list(common),
        TokensCommand::Revoke { id } => revoke(common, &id),
    }
}

fn create(
    common: &CommonArgs,
    role: Option<&str>,
    admin: bool,
    expires_in: Option<String>,
    label: Option<String>,
) -> anyhow::Result<()> {
    // Everything is checked before the request, so a typo never makes a token.
    let mut body = if admin {
        if common.extension.is_some() {
            return Err(CliError::usage("an admin token belongs to no extension")
                .with_hint("drop --extension, or drop --admin and pass --role")
                .into());
        }
        CreateToken {
            admin: true,
            ..CreateToken::default()
        }
    } else {
        let role = role.unwrap_or_default();
        let role = Role::parse(role).map_err(|err| {
            let error = CliError::usage(err.to_string());
            match role {
                "admin" => error.with_hint("for an instance-admin token pass --admin instead"),
                _ => error,
            }
        })?;
        let extension = config::extension(common)?;
        CreateToken {
            extension: Some(extension.to_string()),
            role: Some(role.as_str().to_owned()),
            ..CreateToken::default()
        }
    };
    if let Some(env) = config::explicit_environment(common)? {
        body.env = Some(env.as_str().to_owned());
    }
    if let Some(text) = expires_in {
        let lifetime = TokenLifetime::parse(&text).map_err(|err| {
            CliError::usage(err.to_string()).with_hint("e.g. --expires-in 30m, 12h or 7d")
        })?;
        body.expires_in = Some(lifetime.to_string());
    }
    body.label = label;
    let client = connect(&common.conn)?;
    let created: CreatedToken = client.post(paths::TOKENS, &body)?;
    if common.json {
        return output::json(&created);
    }
    output::line(&created.token)?;
    output::note(format!(
        "Created {} (id {}). Store it now: it is not shown again.",
        describe(&created),
        output::cell(&created.id)
    ));
    Ok(())
}

/// "a developer token for my-ext, staging only, expiring 2025-01-31T09:30:00Z".
fn describe(token: &CreatedToken) -> String {
    let mut text = match &token.extension {
        Some(extension) => format!("a {} token for {extension}", output::cell(&token.role)),
        None => "an instance-admin token".to_owned(),
    };
    text.push_str(&match &token.env {
        Some(env) => format!(", {env} only"),
        None => ", both environments".to_owned(),
    });
    if let Some(at) = token.expires_at {
        text.push_str(&format!(", expiring {}", output::timestamp(at)));
    }
    text
}

fn list(common: &CommonArgs) -> anyhow::Result<()> {
    let mut query = TokenListQuery::default();
    if let Some(extension) = &common.extension {
        let slug =
            ExtensionSlug::parse(extension).map_err(|err| CliError::usage(err.to_string()))?;
        query.extension = Some(slug.to_string());
    }
    let client = connect(&common.conn)?;
    let answer: TokenList = client.get_query(paths::TOKENS, &query)?;
    if common.json {
        return output::json(&answer);
    }
    if answer.tokens.is_empty() {
        return output::line("No live tokens here.");
    }
    let now = Utc::now();
    let rows: Vec<Vec<String>> = answer
        .tokens
        .iter()
        .map(|t| {
            vec![
                output::cell(&t.id),
                output::opt_cell(t.extension.as_deref()),
                output::cell(&t.role),
                t.env.as_deref().unwrap_or("both").to_owned(),
                output::cell(&t.label),
                output::timestamp(t.created_at),
                expiry(t.expires_at, now),
                last_used(t.last_used_at, now),
            ]
        })
        .collect();
    output::table(
        &[
            "ID",
            "EXTENSION",
            "ROLE",
            "ENV",
            "LABEL",
            "CREATED",
            "EXPIRES",
            "LAST USED",
        ],
        &rows,
    )
}

fn expiry(at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    let Some(at) = at else {
        return "never".to_owned();
    };
    if at <= now {
        format!("{} (expired)", output::timestamp(at))
    } else {
        output::timestamp(at)
    }
}

fn last_used(at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    match at {
        Some(at) => output::relative_time(at, now),
        None => "never".to_owned(),
    }
}

fn revoke(common: &CommonArgs, id: &str) -> anyhow::Result<()> {
    let id = id.trim();
    if id.is_empty() || id.len() > 64 {
        return Err(CliError::usage(format!("{id:?} is not a token id"))
            .with_hint("run `lumio tokens list` to see the ids of the tokens you can revoke")
            .into());
    }
    let client = connect(&common.conn)?;
    let revoked: TokenView = client.delete(&paths::token(id))?;
    if common.json {
        return output::json(&revoked);
    }
    output::line(format!("Revoked token {}", output::cell(&revoked.id)))?;
    Ok(())
}
