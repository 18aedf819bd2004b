//! `lumio env set|bind|list|delete|import|history|rollback`: one extension's secrets in
//! one environment (`diff` and `copy`, across two, are in `parity.rs`). No value is ever
//! printed; the server never returns one either.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::Utc;
use lumio_core::SecretName;
use serde::Serialize;
use serde_json::json;

use super::{env_bind, input, parity, secret_name, Scoped};
use crate::cli::{CommonArgs, EnvCommand};
use crate::dotenv;
use crate::error::CliError;
use crate::output;

pub fn run(common: &CommonArgs, command: EnvCommand) -> anyhow::Result<()> {
    match command {
        EnvCommand::Set {
            name,
            value,
            allow_host,
        } => set(common, &name, value, &allow_host),
        EnvCommand::Bind {
            name,
            allow_host,
            clear,
        } => env_bind::bind(common, &name, &allow_host, clear),
        EnvCommand::List => list(common),
        EnvCommand::Delete { name, purge } => delete(common, &name, purge),
        EnvCommand::Import { file } => import(common, &file),
        EnvCommand::History { name } => history(common, &name),
        EnvCommand::Rollback { name, version } => rollback(common, &name, version),
        EnvCommand::Diff { first, second } => parity::diff(common, &first, &second),
        EnvCommand::Copy {
            names,
            all,
            from,
            to,
        } => parity::copy(common, &names, all, &from, &to),
    }
}

/// The body of `PUT …/secrets/{name}`. Borrowed, so no extra copy of the value lingers.
#[derive(Serialize)]
struct SetBody<'a> {
    value: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    allowed_hosts: Option<Vec<String>>,
}

/// The body of `POST …/secrets`: every pair of the parsed `.env` file.
#[derive(Serialize)]
struct ImportBody<'a> {
    secrets: BTreeMap<&'a str, &'a str>,
}

fn set(
    common: &CommonArgs,
    name: &str,
    value: Option<String>,
    allow_host: &[String],
) -> anyhow::Result<()> {
    let name = secret_name(name)?;
    let allowed_hosts = (!allow_host.is_empty())
        .then(|| env_bind::allowed_hosts(allow_host))
        .transpose()?;
    let scope = Scoped::resolve(common)?;
    // Read after everything else is known, so no one types a secret only to see a typo refused.
    let value = match value {
        Some(value) => input::secret_value_arg(&name, value)?,
        None => input::secret_value(&name)?,
    };
    let path = scope.path(&format!("/secrets/{name}"));
    let answer = scope.client.put(
        &path,
        &SetBody {
            value: value.expose(),
            allowed_hosts,
        },
    )?;
    drop(value);
    if scope.json {
        return output::json(&answer);
    }
    let bound = match answer["allowed_hosts"].as_array() {
        Some(_) => format!(", sent only to {}", env_bind::hosts_cell(&answer)),
        None => String::new(),
    };
    output::line(format!(
        "Set {name} (version {}) in {}{bound}",
        output::cell(&answer["version"]),
        scope.place()
    ))
}

fn list(common: &CommonArgs) -> anyhow::Result<()> {
    let scope = Scoped::resolve(common)?;
    let answer = scope.client.get(&scope.path("/secrets"))?;
    if scope.json {
        return output::json(&answer);
    }
    let secrets = output::items(&answer, "secrets");
    if secrets.is_empty() {
        return output::line(format!(
            "No secrets in {} yet. Add one with `lumio env set NAME` (the value is read from \
             standard input).",
            scope.place()
        ));
    }
    let now = Utc::now();
    let rows: Vec<Vec<String>> = secrets
        .iter()
        .map(|s| {
            vec![
                output::cell(&s["name"]),
                output::cell(&s["version"]),
                env_bind::hosts_cell(s),
                output::relative_time(&s["updated_at"], now),
                output::cell(&s["updated_by"]),
            ]
        })
        .collect();
    output::table(
        &["NAME", "VERSION", "ALLOWED HOSTS", "UPDATED", "UPDATED BY"],
        &rows,
    )
}

fn delete(common: &CommonArgs, name: &str, purge: bool) -> anyhow::Result<()> {
    let name = secret_name(name)?;
    let scope = Scoped::resolve(common)?;
    let query = if purge {
        vec![("purge", "true".to_owned())]
    } else {
        Vec::new()
    };
    let answer = scope
        .client
        .delete(&scope.path(&format!("/secrets/{name}")), &query)?;
    if scope.json {
        return output::json(&answer);
    }
    if answer["purged"].as_bool() == Some(true) {
        output::line(format!(
            "Deleted {name} from {} and erased all its versions",
            scope.place()
        ))
    } else {
        output::line(format!("Deleted {name} from {}", scope.place()))
    }
}

fn import(common: &CommonArgs, file: &Path) -> anyhow::Result<()> {
    let scope = Scoped::resolve(common)?;
    let text = input::dotenv_text(file)?;
    let entries = dotenv::parse(&text, |var| std::env::var(var).ok()).map_err(|err| {
        CliError::new(format!("{} {err}", display_file(file))).with_hint(
            "each line is NAME=VALUE; quote values with spaces or '#'; nothing was imported",
        )
    })?;
    drop(text);
    if entries.is_empty() {
        return output::line(format!(
            "{} has no variables; nothing was imported",
            display_file(file)
        ));
    }
    let body = ImportBody {
        secrets: entries
            .iter()
            .map(|e| (e.name.as_str(), e.value.as_str()))
            .collect(),
    };
    crate::progress::step("importing");
    let answer = scope.client.post(&scope.path("/secrets"), &body)?;
    drop(body);
    drop(entries);
    if scope.json {
        return output::json(&answer);
    }
    let imported = output::items(&answer, "imported");
    output::line(format!(
        "Imported {} into {}:",
        output::count(imported.len(), "secret"),
        scope.place()
    ))?;
    for item in imported {
        output::line(format!(
            "  {} (version {})",
            output::cell(&item["name"]),
            output::cell(&item["version"])
        ))?;
    }
    Ok(())
}

fn display_file(file: &Path) -> String {
    if file == Path::new("-") {
        "standard input".to_owned()
    } else {
        file.display().to_string()
    }
}

fn history(common: &CommonArgs, name: &str) -> anyhow::Result<()> {
    let name: SecretName = secret_name(name)?;
    let scope = Scoped::resolve(common)?;
    let answer = scope
        .client
        .get(&scope.path(&format!("/secrets/{name}/versions")))?;
    if scope.json {
        return output::json(&answer);
    }
    let versions = output::items(&answer, "versions");
    if answer["current_version"].is_null() {
        output::line(format!(
            "{name} is deleted in {}; its kept versions:",
            scope.place()
        ))?;
    }
    if versions.is_empty() {
        return output::line(format!("{name} has no stored versions"));
    }
    let rows: Vec<Vec<String>> = versions
        .iter()
        .map(|v| {
            let current = if v["current"].as_bool() == Some(true) {
                "current"
            } else {
                ""
            };
            vec![
                output::cell(&v["version"]),
                output::timestamp(&v["created_at"]),
                output::cell(&v["created_by"]),
                current.to_owned(),
            ]
        })
        .collect();
    output::table(&["VERSION", "CREATED", "CREATED BY", ""], &rows)
}

fn rollback(common: &CommonArgs, name: &str, version: u64) -> anyhow::Result<()> {
    let name = secret_name(name)?;
    let scope = Scoped::resolve(common)?;
    let answer = scope.client.post(
        &scope.path(&format!("/secrets/{name}/rollback")),
        &json!({ "version": version }),
    )?;
    if scope.json {
        return output::json(&answer);
    }
    output::line(format!(
        "Rolled {name} back to version {version}; it is now version {} in {}",
        output::cell(&answer["version"]),
        scope.place()
    ))
}
