//! `lumio admin rotate-master-key`: online master-key rotation, and its state.

use std::time::{Duration, Instant};

use lumio_api::admin::MasterKeyStatus;
use lumio_api::paths;

use super::connect;
use crate::cli::{AdminCommand, CommonArgs};
use crate::error::CliError;
use crate::output;

/// How long `rotate-master-key` waits for the rewrap before it says how to keep watching.
const WAIT: Duration = Duration::from_secs(30 * 60);

pub fn run(common: &CommonArgs, command: AdminCommand) -> anyhow::Result<()> {
    match command {
        AdminCommand::RotateMasterKey { status, no_wait } => {
            if status {
                show_status(common)
            } else {
                rotate(common, !no_wait)
            }
        }
    }
}

fn show_status(common: &CommonArgs) -> anyhow::Result<()> {
    let client = connect(&common.conn)?;
    let status: MasterKeyStatus = client.get(paths::MASTER_KEY)?;
    if common.json {
        return output::json(&status);
    }
    output::line(format!("Current master key: {}", status.current_key))?;
    output::line(format!("Held keys: {}", status.held_keys.join(", ")))?;
    match (status.rotating, &status.rotation_key) {
        (true, Some(key)) => output::line(format!("Rotation to {key}: rewrapping")),
        (false, Some(key)) => output::line(format!("Last rotation: to {key}, finished")),
        _ => output::line("No rotation has run."),
    }
}

fn rotate(common: &CommonArgs, wait: bool) -> anyhow::Result<()> {
    let client = connect(&common.conn)?;
    let started: MasterKeyStatus = client.post(paths::MASTER_KEY_ROTATIONS, &())?;
    let key = started.current_key.clone();
    if !wait {
        if common.json {
            return output::json(&started);
        }
        output::line(format!(
            "Rotation to master key {key} started; new secrets are sealed under it now."
        ))?;
        output::note("Watch it with `lumio admin rotate-master-key --status`.");
        return Ok(());
    }
    crate::progress::step("rewrapping every secret under the new master key");
    let spinner = crate::progress::Waiting::start();
    let deadline = Instant::now() + WAIT;
    let done = loop {
        let status: MasterKeyStatus = client.get(paths::MASTER_KEY)?;
        if !status.rotating {
            break status;
        }
        if Instant::now() > deadline {
            drop(spinner);
            return Err(CliError::new(format!(
                "the rotation to master key {key} is still rewrapping after {} minutes",
                WAIT.as_secs() / 60
            ))
            .with_hint(
                "it goes on in the server; watch it with `lumio admin rotate-master-key --status`",
            )
            .into());
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    drop(spinner);
    if common.json {
        return output::json(&done);
    }
    output::line(format!(
        "Rotated: every secret is sealed under master key {key}."
    ))
}
