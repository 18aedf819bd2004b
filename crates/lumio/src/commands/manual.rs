//! `lumio completions SHELL` and `lumio man`: generated from the same clap definitions
//! that parse the command line, so they cannot drift from it.

use std::io::Write;

use clap::CommandFactory;

use crate::cli::Cli;

pub fn completions(shell: clap_complete::Shell) -> anyhow::Result<()> {
    let mut command = Cli::command();
    // Into a buffer first: clap_complete panics when its writer fails, and stdout fails
    // whenever the reader goes away early (`lumio completions bash | head`).
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "lumio", &mut script);
    let mut out = std::io::stdout().lock();
    out.write_all(&script)?;
    out.flush()?;
    Ok(())
}

/// `lumio(1)`: options, subcommands, exit status (the `after_help` text).
pub fn man_page() -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    clap_mangen::Man::new(Cli::command()).render(&mut out)?;
    out.flush()?;
    Ok(())
}
