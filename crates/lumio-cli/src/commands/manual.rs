//! `lumio completions SHELL` and `lumio man`: generated from the same clap definitions
//! that parse the command line, so they cannot drift from it.

use std::io::Write;

use clap::CommandFactory;

use crate::cli::Cli;

pub fn completions<C: clap::Subcommand>(shell: clap_complete::Shell) -> anyhow::Result<()> {
    let mut command = Cli::<C>::command();
    // Into a buffer first: clap_complete panics when its writer fails, and stdout fails
    // whenever the reader goes away early (`lumio completions bash | head`).
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "lumio", &mut script);
    let mut out = std::io::stdout().lock();
    out.write_all(&script)?;
    out.flush()?;
    Ok(())
}

/// `lumio(1)`: options, subcommands, exit status (the `after_help` text). clap_mangen's
/// own subcommand section points at `lumio-env(1)` and such, pages nobody installs; this
/// one names each command and points at its `--help`.
pub fn man_page<C: clap::Subcommand>() -> anyhow::Result<()> {
    let mut command = Cli::<C>::command();
    command.build();
    let man = clap_mangen::Man::new(command.clone());
    let mut page = Vec::new();
    man.render_title(&mut page)?;
    man.render_name_section(&mut page)?;
    man.render_synopsis_section(&mut page)?;
    man.render_description_section(&mut page)?;
    man.render_options_section(&mut page)?;
    subcommands_section(&command).to_writer(&mut page)?;
    man.render_extra_section(&mut page)?;
    man.render_version_section(&mut page)?;
    let mut out = std::io::stdout().lock();
    out.write_all(&page)?;
    out.flush()?;
    Ok(())
}

/// SUBCOMMANDS: `lumio env` and what it does, for each command, then where their
/// options are described.
fn subcommands_section(command: &clap::Command) -> roff::Roff {
    let mut roff = roff::Roff::new();
    roff.control("SH", ["SUBCOMMANDS"]);
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        roff.control("TP", []);
        roff.text([roff::bold(format!("lumio {}", sub.get_name()))]);
        if let Some(about) = sub.get_about() {
            roff.text([roff::roman(about.to_string())]);
        }
    }
    roff.control("PP", []);
    roff.text([roff::roman(
        "Each command's options and examples: lumio COMMAND --help (and lumio COMMAND \
         SUBCOMMAND --help).",
    )]);
    roff
}
