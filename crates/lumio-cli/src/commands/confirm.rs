//! Asking before what cannot be undone (`extensions delete`, `env delete --purge`): on a
//! terminal the user types the name; scripts pass `--yes`; without either, and with no
//! terminal to ask on, the command refuses and says how to confirm.

use std::io::{BufRead, IsTerminal, Write};

use crate::error::CliError;

/// Goes on when `yes`, or when the user at the terminal types `name`; else an error.
/// `loss` says what is lost ("deleting acme destroys …"); `command` is the command line
/// to run again with `--yes`.
pub fn destructive(loss: &str, name: &str, yes: bool, command: &str) -> anyhow::Result<()> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(CliError::usage(format!(
            "{loss}; standard input is not a terminal to ask on, so nothing was done"
        ))
        .with_hint(format!("run `{command} --yes` to confirm"))
        .into());
    }
    let mut stderr = std::io::stderr().lock();
    let _ = write!(stderr, "{loss}. Type {name} to confirm: ");
    let _ = stderr.flush();
    let mut typed = String::new();
    std::io::stdin().lock().read_line(&mut typed)?;
    if typed.trim() == name {
        return Ok(());
    }
    Err(CliError::new("not confirmed: nothing was done")
        .with_hint(format!(
            "type {name} exactly, or run `{command} --yes` to confirm without asking"
        ))
        .into())
}
