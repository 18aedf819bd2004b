//! Issue 25: `lumio-client` is the `lumio` command line without the server: every client
//! command, the same errors and exit statuses, and no `server` or `healthcheck`.

use std::process::{Command, Output};

use clap::CommandFactory;
use lumio_cli::cli::Cli;

fn client(args: &[&str]) -> Output {
    let home = tempfile::tempdir().unwrap();
    Command::new(env!("CARGO_BIN_EXE_lumio-client"))
        .args(args)
        .env_clear()
        .env("HOME", home.path())
        .current_dir(home.path())
        .output()
        .expect("lumio-client runs")
}

#[test]
fn it_offers_the_client_commands_and_not_the_server() {
    let out = client(&["--help"]);
    assert!(out.status.success(), "{out:?}");
    let help = String::from_utf8(out.stdout).unwrap();
    let commands: Vec<&str> = help
        .split("Commands:\n")
        .nth(1)
        .and_then(|rest| rest.split("\n\n").next())
        .unwrap()
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .collect();
    let mut expected: Vec<String> = <Cli>::command()
        .get_subcommands()
        .map(|sub| sub.get_name().to_owned())
        .collect();
    expected.push("help".to_owned());
    assert_eq!(commands, expected, "{help}");
    assert!(help.contains("EXIT STATUS:"), "{help}");
    for server_side in ["server", "healthcheck"] {
        assert!(!commands.contains(&server_side), "{help}");
        assert_eq!(client(&[server_side]).status.code(), Some(2));
    }
}

#[test]
fn a_failure_is_one_json_error_and_its_exit_status() {
    let out = client(&["--json", "env", "list", "--url", "ftp://h"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let body: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(body["error"]["code"], "usage", "{body}");
}
