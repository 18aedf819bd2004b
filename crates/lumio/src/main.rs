//! `lumio`: `lumio server` runs the platform; every other subcommand is a client of its
//! HTTP API, from `lumio-cli`. This file only picks which one runs.

mod allocator;
mod args;
mod server;

use std::process::ExitCode;

use args::Command;

fn main() -> ExitCode {
    lumio_cli::main::<Command>(run)
}

/// Runs the command the user asked for.
fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Server(args) => server::run(args),
        Command::Healthcheck(args) => server::healthcheck(args),
        Command::Client(command) => lumio_cli::commands::run::<Command>(command),
    }
}
