//! `lumio env diff A B` and `lumio env copy NAME… | --all --from A --to B`: both run on
//! the server, which compares and copies values without ever sending one here.

use lumio_api::parity::{CopiedView, CopySecrets, DiffQuery, DiffView};
use lumio_core::Environment;

use super::{connect, secret_name, Scoped};
use crate::cli::CommonArgs;
use crate::config;
use crate::error::{CliError, Differences};
use crate::output;

pub fn diff(common: &CommonArgs, first: &str, second: &str) -> anyhow::Result<()> {
    let first = environment(first)?;
    let second = environment(second)?;
    let scope = in_environment(common, first)?;
    let query = DiffQuery {
        with: Some(second.as_str().to_owned()),
    };
    let answer: DiffView = scope.client.get_query(&scope.api().diff(), &query)?;
    if scope.json {
        output::json(&answer)?;
    } else {
        print_diff(&answer, first, second)?;
    }
    if answer.equal {
        Ok(())
    } else {
        Err(Differences.into())
    }
}

fn print_diff(answer: &DiffView, first: Environment, second: Environment) -> anyhow::Result<()> {
    let groups = [
        (&answer.only_in_environment, format!("only in {first}")),
        (&answer.only_in_other, format!("only in {second}")),
        (&answer.differ, "different values".to_owned()),
        (&answer.same, "same value".to_owned()),
    ];
    let rows: Vec<Vec<String>> = groups
        .iter()
        .flat_map(|(names, label)| {
            names
                .iter()
                .map(|name| vec![output::cell(name), label.clone()])
        })
        .collect();
    if rows.is_empty() {
        return output::line(format!("Neither {first} nor {second} has secrets yet"));
    }
    output::table(&["NAME", "STATE"], &rows)?;
    if answer.equal {
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
    let body = CopySecrets {
        from: from.as_str().to_owned(),
        names: names.to_vec(),
        all,
    };
    let answer: CopiedView = scope.client.post(&scope.api().copy(), &body)?;
    if scope.json {
        return output::json(&answer);
    }
    let target = scope.place();
    if answer.copied.is_empty() && answer.unchanged.is_empty() {
        return output::line(format!("{from} has no secrets; nothing was copied"));
    }
    if answer.copied.is_empty() {
        output::line(format!(
            "Nothing to copy: {target} already has the same values"
        ))?;
    } else {
        output::line(format!(
            "Copied {} from {from} to {target}:",
            output::count(answer.copied.len(), "secret")
        ))?;
    }
    for item in &answer.copied {
        output::line(format!(
            "  {} (version {})",
            output::cell(&item.name),
            item.version
        ))?;
    }
    for name in &answer.unchanged {
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
        CliError::usage(err.to_string())
            .with_hint("name staging or production")
            .into()
    })
}

/// The extension and connection, acting in `environment`.
pub(super) fn in_environment(
    common: &CommonArgs,
    environment: Environment,
) -> anyhow::Result<Scoped> {
    let extension = config::extension(common)?;
    let client = connect(&common.conn)?;
    Ok(Scoped {
        client,
        extension,
        environment,
        json: common.json,
    })
}
