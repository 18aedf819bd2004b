//! `lumio tokens create|list|revoke`. A new token goes alone to stdout, so
//! `TOKEN=$(lumio tokens create …)` works; everything else goes to stderr.

use chrono::Utc;
use lumio_core::{ExtensionSlug, Role, TokenLifetime};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde_json::{json, Value};

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
            return Err(CliError::new("an admin token belongs to no extension")
                .with_hint("drop --extension, or drop --admin and pass --role")
                .into());
        }
        json!({ "admin": true })
    } else {
        let role = role.unwrap_or_default();
        let role = Role::parse(role).map_err(|err| {
            let error = CliError::new(err.to_string());
            match role {
                "admin" => error.with_hint("for an instance-admin token pass --admin instead"),
                _ => error,
            }
        })?;
        let extension = config::extension(common)?;
        json!({ "extension": extension, "role": role })
    };
    if let Some(env) = config::explicit_environment(common)? {
        body["env"] = env.as_str().into();
    }
    if let Some(text) = expires_in {
        let lifetime = TokenLifetime::parse(&text).map_err(|err| {
            CliError::new(err.to_string()).with_hint("e.g. --expires-in 30m, 12h or 7d")
        })?;
        body["expires_in"] = lifetime.to_string().into();
    }
    if let Some(label) = label {
        body["label"] = label.into();
    }
    let client = connect(&common.conn)?;
    let created = client.post("/api/v1/tokens", &body)?;
    if common.json {
        return output::json(&created);
    }
    let Some(token) = created["token"].as_str() else {
        return Err(CliError::new("the server's answer has no token").into());
    };
    output::line(token)?;
    output::note(format!(
        "Created {} (id {}). Store it now: it is not shown again.",
        describe(&created),
        output::cell(&created["id"])
    ));
    Ok(())
}

/// "a developer token for my-ext, staging only, expiring 2025-01-31T09:30:00Z".
fn describe(token: &Value) -> String {
    let mut text = match token["extension"].as_str() {
        Some(extension) => format!("a {} token for {extension}", output::cell(&token["role"])),
        None => "an instance-admin token".to_owned(),
    };
    text.push_str(&match token["env"].as_str() {
        Some(env) => format!(", {env} only"),
        None => ", both environments".to_owned(),
    });
    if !token["expires_at"].is_null() {
        text.push_str(&format!(
            ", expiring {}",
            output::timestamp(&token["expires_at"])
        ));
    }
    text
}

fn list(common: &CommonArgs) -> anyhow::Result<()> {
    let mut query = Vec::new();
    if let Some(extension) = &common.extension {
        let slug = ExtensionSlug::parse(extension).map_err(|err| CliError::new(err.to_string()))?;
        query.push(("extension", slug.to_string()));
    }
    let client = connect(&common.conn)?;
    let answer = client.get_query("/api/v1/tokens", &query)?;
    if common.json {
        return output::json(&answer);
    }
    let tokens = output::items(&answer, "tokens");
    if tokens.is_empty() {
        return output::line("No live tokens here.");
    }
    let now = Utc::now();
    let rows: Vec<Vec<String>> = tokens
        .iter()
        .map(|t| {
            vec![
                output::cell(&t["id"]),
                output::cell(&t["extension"]),
                output::cell(&t["role"]),
                t["env"].as_str().unwrap_or("both").to_owned(),
                output::cell(&t["label"]),
                output::timestamp(&t["created_at"]),
                expiry(&t["expires_at"], now),
                last_used(&t["last_used_at"], now),
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

fn expiry(value: &Value, now: chrono::DateTime<Utc>) -> String {
    if value.is_null() {
        return "never".to_owned();
    }
    let expired = value
        .as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .is_some_and(|at| at <= now);
    let at = output::timestamp(value);
    if expired {
        format!("{at} (expired)")
    } else {
        at
    }
}

fn last_used(value: &Value, now: chrono::DateTime<Utc>) -> String {
    if value.is_null() {
        "never".to_owned()
    } else {
        output::relative_time(value, now)
    }
}

fn revoke(common: &CommonArgs, id: &str) -> anyhow::Result<()> {
    let id = id.trim();
    if id.is_empty() || id.len() > 64 {
        return Err(CliError::new(format!("{id:?} is not a token id"))
            .with_hint("run `lumio tokens list` to see the ids of the tokens you can revoke")
            .into());
    }
    let client = connect(&common.conn)?;
    let path = format!(
        "/api/v1/tokens/{}",
        utf8_percent_encode(id, NON_ALPHANUMERIC)
    );
    let revoked = client.delete(&path, &[])?;
    if common.json {
        return output::json(&revoked);
    }
    output::line(format!("Revoked token {}", output::cell(&revoked["id"])))?;
    Ok(())
}
