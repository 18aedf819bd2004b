//! `lumio env list|delete|import|history|rollback`: one extension's secrets in one
//! environment (`set` is in `env_set.rs`, `bind` in `env_bind.rs`, `due` and `due-dates`
//! in `env_due.rs`; `diff` and `copy`, across two, in `parity.rs`). No value is ever
//! printed; the server never returns one either.

use std::borrow::Cow;
use std::path::Path;

use chrono::Utc;
use lumio_api::secrets::{
    DeleteQuery, Deleted, History, ImportSecrets, Imported, Rollback, SecretList, SecretView,
};
use lumio_core::SecretName;

use super::{confirm, env_bind, env_due, env_set, input, parity, secret_name, Scoped};
use crate::cli::{CommonArgs, EnvCommand};
use crate::dotenv;
use crate::error::CliError;
use crate::output;

pub fn run(common: &CommonArgs, command: EnvCommand) -> anyhow::Result<()> {
    match command {
        EnvCommand::Set {
            words,
            from_file,
            allow_host,
            due,
        } => env_set::set(common, &words, from_file.as_deref(), &allow_host, &due),
        EnvCommand::DueDates {
            name,
            due,
            no_expiry,
        } => env_due::change(common, &name, &due, no_expiry),
        EnvCommand::Due { within } => env_due::due(common, &within),
        EnvCommand::Bind {
            name,
            allow_host,
            clear,
        } => env_bind::bind(common, &name, &allow_host, clear),
        EnvCommand::List => list(common),
        EnvCommand::Delete { name, purge, yes } => delete(common, &name, purge, yes),
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

fn list(common: &CommonArgs) -> anyhow::Result<()> {
    let scope = Scoped::resolve(common)?;
    let answer: SecretList = scope.client.get(&scope.api().secrets())?;
    if scope.json {
        return output::json(&answer);
    }
    if answer.secrets.is_empty() {
        return output::line(format!(
            "No secrets in {} yet. Add one with `lumio env set NAME` (the value is read from \
             standard input).",
            scope.place()
        ));
    }
    let now = Utc::now();
    let rows: Vec<Vec<String>> = answer
        .secrets
        .iter()
        .map(|s| {
            vec![
                env_due::marked_name(s),
                s.version.to_string(),
                env_bind::hosts_cell(s.allowed_hosts.as_deref()),
                env_due::date_cell(s.expires_at),
                env_due::date_cell(s.rotate_by),
                output::relative_time(s.updated_at, now),
                output::cell(&s.updated_by),
            ]
        })
        .collect();
    output::table(
        &[
            "NAME",
            "VERSION",
            "ALLOWED HOSTS",
            "EXPIRES",
            "ROTATE BY",
            "UPDATED",
            "UPDATED BY",
        ],
        &rows,
    )?;
    env_due::legend(&answer.secrets);
    Ok(())
}

fn delete(common: &CommonArgs, name: &str, purge: bool, yes: bool) -> anyhow::Result<()> {
    let name = secret_name(name)?;
    let scope = Scoped::resolve(common)?;
    if purge {
        confirm::destructive(
            &format!(
                "Purging {name} erases every stored version of it in {}; it cannot be \
                 rolled back",
                scope.place()
            ),
            name.as_str(),
            yes,
            &format!("lumio env delete {name} --purge"),
        )?;
    }
    let answer: Deleted = scope
        .client
        .delete_query(&scope.api().secret(&name), &DeleteQuery { purge })?;
    if scope.json {
        return output::json(&answer);
    }
    if answer.purged {
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
    let body = ImportSecrets {
        secrets: entries
            .iter()
            .map(|e| {
                (
                    Cow::Borrowed(e.name.as_str()),
                    Cow::Borrowed(e.value.as_str()),
                )
            })
            .collect(),
    };
    crate::progress::step("importing");
    let answer: Imported = scope.client.post(&scope.api().secrets(), &body)?;
    drop(body);
    drop(entries);
    if scope.json {
        return output::json(&answer);
    }
    output::line(format!(
        "Imported {} into {}:",
        output::count(answer.imported.len(), "secret"),
        scope.place()
    ))?;
    for item in &answer.imported {
        output::line(format!(
            "  {} (version {})",
            output::cell(&item.name),
            item.version
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
    let answer: History = scope.client.get(&scope.api().versions(&name))?;
    if scope.json {
        return output::json(&answer);
    }
    if answer.current_version.is_none() {
        output::line(format!(
            "{name} is deleted in {}; its kept versions:",
            scope.place()
        ))?;
    }
    if answer.versions.is_empty() {
        return output::line(format!("{name} has no stored versions"));
    }
    let rows: Vec<Vec<String>> = answer
        .versions
        .iter()
        .map(|v| {
            let current = if v.current { "current" } else { "" };
            vec![
                v.version.to_string(),
                output::timestamp(v.created_at),
                output::cell(&v.created_by),
                current.to_owned(),
            ]
        })
        .collect();
    output::table(&["VERSION", "CREATED", "CREATED BY", ""], &rows)
}

fn rollback(common: &CommonArgs, name: &str, version: i64) -> anyhow::Result<()> {
    let name = secret_name(name)?;
    let scope = Scoped::resolve(common)?;
    let answer: SecretView = scope
        .client
        .post(&scope.api().rollback(&name), &Rollback { version })?;
    if scope.json {
        return output::json(&answer);
    }
    output::line(format!(
        "Rolled {name} back to version {version}; it is now version {} in {}",
        answer.version,
        scope.place()
    ))
}
