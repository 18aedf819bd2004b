//! `lumio tokens create`: the new token goes alone to stdout, so
//! `TOKEN=$(lumio tokens create …)` works; everything else goes to stderr.

use lumio_core::Role;
use serde_json::json;

use super::connect;
use crate::cli::{CommonArgs, TokensCommand};
use crate::config;
use crate::error::CliError;
use crate::output;

pub fn run(common: &CommonArgs, command: TokensCommand) -> anyhow::Result<()> {
    match command {
        TokensCommand::Create { role, label } => create(common, &role, label),
    }
}

fn create(common: &CommonArgs, role: &str, label: Option<String>) -> anyhow::Result<()> {
    let role = Role::parse(role).map_err(|err| CliError::new(err.to_string()))?;
    let extension = config::extension(common)?;
    let client = connect(&common.conn)?;
    let mut body = json!({ "extension": extension, "role": role });
    if let Some(label) = label {
        body["label"] = label.into();
    }
    let created = client.post("/api/v1/tokens", &body)?;
    if common.json {
        return output::json(&created);
    }
    let Some(token) = created["token"].as_str() else {
        return Err(CliError::new("the server's answer has no token").into());
    };
    output::line(token)?;
    output::note(format!(
        "Created a {role} token for {extension} (id {}). Store it now: it is not shown again.",
        output::cell(&created["id"])
    ));
    Ok(())
}
