//! `lumio extensions create|list`.

use lumio_api::extensions::{CreateExtension, ExtensionList, ExtensionView};
use lumio_api::paths;
use lumio_core::ExtensionSlug;

use super::connect;
use crate::cli::{CommonArgs, ExtensionsCommand};
use crate::error::CliError;
use crate::output;

pub fn run(common: &CommonArgs, command: ExtensionsCommand) -> anyhow::Result<()> {
    match command {
        ExtensionsCommand::Create { name } => create(common, &name),
        ExtensionsCommand::List => list(common),
    }
}

fn create(common: &CommonArgs, name: &str) -> anyhow::Result<()> {
    let slug = ExtensionSlug::parse(name).map_err(|err| CliError::new(err.to_string()))?;
    let client = connect(&common.conn)?;
    let created: ExtensionView = client.post(
        paths::EXTENSIONS,
        &CreateExtension {
            name: slug.to_string(),
        },
    )?;
    if common.json {
        return output::json(&created);
    }
    output::line(format!("Created extension {slug}"))?;
    output::note(format!(
        "Next: `lumio tokens create --extension {slug} --role owner` for its owner, or \
         `lumio env set NAME --extension {slug}` to add a secret"
    ));
    Ok(())
}

fn list(common: &CommonArgs) -> anyhow::Result<()> {
    let client = connect(&common.conn)?;
    let answer: ExtensionList = client.get(paths::EXTENSIONS)?;
    if common.json {
        return output::json(&answer);
    }
    if answer.extensions.is_empty() {
        return output::line(
            "No extensions yet. An instance admin creates one with `lumio extensions create NAME`.",
        );
    }
    let rows: Vec<Vec<String>> = answer
        .extensions
        .iter()
        .map(|e| vec![output::cell(&e.name), output::timestamp(e.created_at)])
        .collect();
    output::table(&["NAME", "CREATED"], &rows)
}
