//! `lumio env diff A B` and `lumio env copy NAME… | --all --from A --to B`: both run on
//! the server, which compares and copies values without ever sending one here.

use lumio_core::Environment;
use serde::Serialize;
use serde_json::Value;

use super::{connect, secret_name, Scoped};
use crate::cli::CommonArgs;
use crate::config;
use crate::error::{CliError, Differences};
use crate::output;

/// The body of `POST …/environments/{to}/copy`.
#[derive(Serialize)]
struct CopyBody<'a> {
    from: Environment,
    names: &'a [String],
    all: bool,
}

pub fn diff(common: &CommonArgs, first: &str, second: &str) -> anyhow::Result<()> {
    let first = environment(first)?;
    let second = environment(second)?;
    let scope = in_environment(common, first)?;
    let query = [("with", second.as_str().to_owned())];
    let answer = scope.client.get_query(&scope.path("/diff"), &query)?;
    if scope.json {
        output::json(&answer)?;
    } else {
        print_diff(&answer, first, second)?;
    }
    if answer["equal"].as_bool() == Some(true) {
        Ok(())
    } else {
        Err(Differences.into())
    }
}

fn print_diff(answer: &Value, first: Environment, second: Environment) -> anyhow::Result<()> {
    let groups = [
        ("only_in_environment", format!("only in {first}")),
        ("only_in_other", format!("only in {second}")),
        ("differ", "different values".to_owned()),
        ("same", "same value".to_owned()),
    ];
    let rows: Vec<Vec<String>> = groups
        .iter()
        .flat_map(|(field, label)| {
            output::items(answer, field)
                .iter()
                .map(|name| vec![output::cell(name), label.clone()])
        })
        .collect();
    if rows.is_empty() {
        return output::line(format!("Neither {first} nor {second} has secrets yet"));
    }
    output::table(&["NAME", "STATE"], &rows)?;
    if answer["equal"].as_bool() == Some(true) {
        output::line(format!("{first} and {second} are the same"))
    } else {
        output::line(format!(
            "{first} and {second} differ; copy values across with `lumio env copy NAME… --from {first} --to {second}`"
        ))
    }
}

pub fn copy(
    common: &CommonArgs,
    names: &[String],
    all: bool,
    from: &str,
    to: &str,
) -> anyhow::Result<()> {
    for name in names {
        secret_name(name)?;
    }
    let from = environment(from)?;
    let to = environment(to)?;
    let scope = in_environment(common, to)?;
    let body = CopyBody { from, names, all };
    let answer = scope.client.post(&scope.path("/copy"), &body)?;
    if scope.json {
        return output::json(&answer);
    }
    let copied = output::items(&answer, "copied");
    let unchanged = output::items(&answer, "unchanged");
    let target = scope.place();
    if copied.is_empty() && unchanged.is_empty() {
        return output::line(format!("{from} has no secrets; nothing was copied"));
    }
    if copied.is_empty() {
        output::line(format!(
            "Nothing to copy: {target} already has the same values"
        ))?;
    } else {
        output::line(format!(
            "Copied {} from {from} to {target}:",
            output::count(copied.len(), "secret")
        ))?;
    }
    for item in copied {
        output::line(format!(
            "  {} (version {})",
            output::cell(&item["name"]),
            output::cell(&item["version"])
        ))?;
    }
    for name in unchanged {
        output::line(format!(
            "  {} unchanged (same value already)",
            output::cell(name)
        ))?;
    }
    Ok(())
}

/// An environment named on the command line.
fn environment(given: &str) -> anyhow::Result<Environment> {
    Environment::parse(given).map_err(|err| {
        CliError::new(err.to_string())
            .with_hint("name staging or production")
            .into()
    })
}

/// The extension and connection, acting in `environment`.
fn in_environment(common: &CommonArgs, environment: Environment) -> anyhow::Result<Scoped> {
    let extension = config::extension(common)?;
    let client = connect(&common.conn)?;
    Ok(Scoped {
        client,
        extension,
        environment,
        json: common.json,
    })
}
