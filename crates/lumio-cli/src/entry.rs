//! The process around a command: parse the command line, run the command, report a
//! failure as one `error:` / `hint:` pair (or a JSON object) and its exit status. Both
//! binaries, `lumio` and `lumio-client`, are this with their own set of subcommands.

use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::{Parser, Subcommand};

use crate::{cli, error, global_options};

/// The whole of a binary's `main`: `C` is its set of subcommands and `run` runs one.
pub fn main<C: Subcommand>(run: impl FnOnce(C) -> anyhow::Result<()>) -> ExitCode {
    let args = global_options::hoisted(std::env::args_os());
    let json = global_options::json_requested(&args);
    let cli = match cli::Cli::<C>::try_parse_from(args) {
        Ok(cli) => cli,
        Err(err) => return usage_error::<C>(&err, json),
    };
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        // `lumio env list | head` closing the pipe early is not a failure.
        Err(err) if error::is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) if err.is::<error::Differences>() => ExitCode::FAILURE,
        Err(err) if err.is::<error::NeedsAttention>() => ExitCode::FAILURE,
        Err(err) => {
            error::report(&err, json);
            ExitCode::from(error::exit_status(&err))
        }
    }
}

/// Help and version print as clap does; a bad command line becomes the same
/// `error:` / `hint:` pair as every other failure, with clap's exit status 2.
fn usage_error<C: Subcommand>(err: &clap::Error, json: bool) -> ExitCode {
    if matches!(
        err.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        err.exit();
    }
    let rendered = err.render().to_string();
    // clap's message is the first paragraph (a list of missing arguments may follow it).
    let mut message = rendered
        .split("\n\n")
        .next()
        .unwrap_or_default()
        .trim_start_matches("error: ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let mut tip = rendered
        .lines()
        .find_map(|line| line.trim().strip_prefix("tip: "));
    let command = command_path::<C>(std::env::args().skip(1));
    if command == "lumio env set" && err.kind() == ErrorKind::UnknownArgument {
        // The stray word may be part of an unquoted secret value: never echo it.
        message = "too many arguments for `lumio env set NAME [VALUE]`".to_owned();
        tip = Some(
            "quote a value with spaces, put `--` before one starting with '-', or pipe it \
             on standard input",
        );
    }
    let extension_at_login = ["'--extension'", "'--env'"]
        .iter()
        .any(|option| message.contains(option));
    if command == "lumio login" && extension_at_login {
        // A login is for a server: the extension is picked per command.
        tip = Some(
            "a login is for a server, not an extension: pass --extension and --env to each \
             command, set LUMIO_EXTENSION, or name the extension in lumio.json",
        );
    }
    let hint = match tip {
        Some(tip) => format!("{tip}; see `{command} --help`"),
        None => format!("see `{command} --help`"),
    };
    let failure = anyhow::Error::new(error::CliError::usage(message).with_hint(hint));
    error::report(&failure, json);
    ExitCode::from(error::Failure::Usage as u8)
}

/// `lumio env set` for `lumio env set A --bogus`: the subcommands named on the command
/// line, so the hint can point at the right `--help`.
fn command_path<C: Subcommand>(args: impl Iterator<Item = String>) -> String {
    let mut command = <cli::Cli<C> as clap::CommandFactory>::command();
    let mut path = vec!["lumio".to_owned()];
    for arg in args {
        let Some(sub) = command.find_subcommand(&arg).cloned() else {
            continue;
        };
        path.push(sub.get_name().to_owned());
        command = sub;
    }
    path.join(" ")
}

#[cfg(test)]
mod tests {
    use super::command_path;
    use crate::cli::ClientCommand;

    #[test]
    fn command_paths() {
        let path =
            |args: &[&str]| command_path::<ClientCommand>(args.iter().map(|a| a.to_string()));
        assert_eq!(path(&["env", "set", "A", "--bogus"]), "lumio env set");
        assert_eq!(path(&["audit", "--limit", "0"]), "lumio audit");
        assert_eq!(path(&["evn"]), "lumio");
    }
}
