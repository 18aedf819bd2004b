//! `lumio extensions create|list`.

use lumio_core::ExtensionSlug;
use serde_json::json;

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
    let created = client.post("/api/v1/extensions", &json!({ "name": slug }))?;
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
    let answer = client.get("/api/v1/extensions")?;
    if common.json {
        return output::json(&answer);
    }
    let extensions = output::items(&answer, "extensions");
    if extensions.is_empty() {
        return output::line(
            "No extensions yet. An instance admin creates one with `lumio extensions create NAME`.",
        );
    }
    let rows: Vec<Vec<String>> = extensions
        .iter()
        .map(|e| {
            vec![
                output::cell(&e["name"]),
                output::timestamp(&e["created_at"]),
            ]
        })
        .collect();
    output::table(&["NAME", "CREATED"], &rows)
}
