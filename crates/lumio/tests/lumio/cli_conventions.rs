//! Issue 13, item 3: the CLI follows its ecosystem's conventions. Global options work in
//! every position; `lumio completions` and `lumio man` print what the shells and `man`
//! read; each class of failure has its own exit status (the table in `lumio --help`);
//! the main commands show EXAMPLES in their help.

use crate::support;
use crate::support::project::Project;
use crate::support::server::{Backend, TestServer};
use crate::support::{free_port, lumio, run};
use tempfile::TempDir;

fn offline(args: &[&str]) -> support::Output {
    let (home, cwd) = (TempDir::new().unwrap(), TempDir::new().unwrap());
    let mut cmd = lumio(home.path(), cwd.path());
    cmd.args(args);
    run(cmd, None)
}

fn code(out: &support::Output) -> i32 {
    out.status.code().expect("exited, not killed")
}

#[test]
fn global_options_work_in_every_position() {
    let Some(server) = TestServer::start(Backend::Sqlite) else {
        return;
    };
    let admin = server.admin();
    admin.ok(&["extensions", "create", "anywhere"]);
    admin.ok(&[
        "env",
        "set",
        "PLACED",
        "v",
        "--extension",
        "anywhere",
        "--env",
        "production",
    ]);
    let lines: [&[&str]; 4] = [
        &[
            "--json",
            "--extension",
            "anywhere",
            "--env",
            "production",
            "env",
            "list",
        ],
        &[
            "--extension=anywhere",
            "env",
            "--json",
            "list",
            "--env=production",
        ],
        &[
            "env",
            "list",
            "--json",
            "--extension",
            "anywhere",
            "--env",
            "production",
        ],
        &[
            "--env",
            "production",
            "env",
            "list",
            "--extension",
            "anywhere",
            "--json",
        ],
    ];
    for args in lines {
        let out = admin.run(args, None);
        let listed: serde_json::Value = serde_json::from_str(out.ok())
            .unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {out:#?}"));
        let names: Vec<&str> = listed["secrets"]
            .as_array()
            .unwrap_or_else(|| panic!("{args:?}: {listed}"))
            .iter()
            .filter_map(|s| s["name"].as_str())
            .collect();
        assert_eq!(names, ["PLACED"], "{args:?}");
    }
    // --url before the subcommand too: pointing at nothing fails as unreachable.
    let nowhere = format!("http://127.0.0.1:{}", free_port());
    let out = admin.run(
        &["--url", &nowhere, "env", "list", "--extension", "anywhere"],
        None,
    );
    assert_eq!(code(&out), 6, "{out:#?}");
}

/// `lumio completions bash | head -1`: the reader leaves early and the write fails; that
/// is no failure of lumio's (clap_complete used to panic on it).
#[test]
fn output_cut_short_is_not_a_panic() {
    for args in [&["completions", "bash"][..], &["man"][..]] {
        let (home, cwd) = (TempDir::new().unwrap(), TempDir::new().unwrap());
        let mut command = lumio(home.path(), cwd.path());
        let mut child = command
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take()); // the reader is gone before anything is written
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
    }
}

#[test]
fn completions_and_man_page_are_printed() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = offline(&["completions", shell]);
        let script = out.ok();
        assert!(
            script.contains("lumio") && script.contains("env") && script.contains("deploy"),
            "{shell} completions lack the commands: {script:.300}"
        );
    }
    assert!(offline(&["completions", "bash"])
        .ok()
        .contains("complete -F"));
    assert!(offline(&["completions", "zsh"])
        .ok()
        .starts_with("#compdef lumio"));
    let bad = offline(&["completions", "tcsh"]);
    assert_eq!(code(&bad), 2, "{bad:#?}");

    let out = offline(&["man"]);
    let page = out.ok();
    assert!(
        page.starts_with(".ie") || page.contains(".TH lumio"),
        "{page:.200}"
    );
    assert!(
        page.contains("EXIT STATUS"),
        "the exit status table is in the page"
    );
    assert!(page.contains("completions"), "subcommands are listed");
    // Issue 24: no pointer to `lumio-env(1)` and other pages that are not installed.
    assert!(!page.contains("(1)"), "a page that does not exist is named");
    assert!(page.contains("lumio env"), "{page}");
}

/// Issue 24: README said every command takes `--extension`; `login` does not, and its
/// refusal says where the extension goes instead.
#[test]
fn login_says_where_the_extension_goes() {
    let out = offline(&[
        "login",
        "--extension",
        "my-ext",
        "--url",
        "http://127.0.0.1:1",
    ]);
    assert_eq!(code(&out), 2, "{out:#?}");
    out.err("--extension");
    assert!(out.hint().unwrap().contains("lumio.json"), "{out:#?}");
}

/// Issue 24: `tokens create` without `--env` makes a token for both environments, and
/// its help says so (it said `[default: staging]`); other commands keep staging.
#[test]
fn env_help_states_each_commands_default() {
    let create = offline(&["tokens", "create", "--help"]);
    assert!(create.ok().contains("[default: both]"), "{create:#?}");
    assert!(!create.ok().contains("[default: staging]"), "{create:#?}");
    let list = offline(&["env", "list", "--help"]);
    assert!(list.ok().contains("[default: staging]"), "{list:#?}");
}

#[test]
fn help_of_the_main_commands_has_examples() {
    for command in ["env", "init", "deploy", "run", "audit", "tokens", "login"] {
        let out = offline(&[command, "--help"]);
        assert!(
            out.ok().contains("EXAMPLES:"),
            "`lumio {command} --help`: {out:#?}"
        );
    }
    assert!(offline(&["--help"]).ok().contains("EXIT STATUS:"));
}

#[test]
fn each_failure_class_has_its_exit_status() {
    let Some(server) = TestServer::start(Backend::Sqlite) else {
        return;
    };
    let admin = server.admin();
    admin.ok(&["extensions", "create", "classes"]);
    let ext = ["--extension", "classes"];

    let usage = admin.run(&["env", "list", "--bogus"], None);
    assert_eq!(code(&usage), 2, "usage: {usage:#?}");

    let mut stranger = server.admin();
    stranger.token = Some("lumio_admin_not_a_real_token_0123456789".into());
    let auth = stranger.run(&[&["env", "list"][..], &ext].concat(), None);
    assert_eq!(code(&auth), 3, "auth: {auth:#?}");

    let missing = admin.run(&[&["env", "history", "NOT_SET"][..], &ext].concat(), None);
    assert_eq!(code(&missing), 4, "not found: {missing:#?}");

    let conflict = admin.run(&["extensions", "create", "classes"], None);
    assert_eq!(code(&conflict), 5, "conflict: {conflict:#?}");

    let nowhere = format!("http://127.0.0.1:{}", free_port());
    let unreachable = admin.run(&["--url", &nowhere, "extensions", "list"], None);
    assert_eq!(code(&unreachable), 6, "unavailable: {unreachable:#?}");

    let project = Project::empty();
    project.write("lumio.json", "{\"extension\": \"classes\"}");
    project.write(
        "server/functions.ts",
        "import { action } from \"@zaflun/lumio-sdk/server\";\n\
         export const fails = action({ args: {}, handler: async () => { throw new Error(\"on purpose\"); } });\n",
    );
    admin.ok(&["deploy", project.arg()]);
    let thrown = admin.run(&[&["run", "functions:fails"][..], &ext].concat(), None);
    assert_eq!(code(&thrown), 7, "action failed: {thrown:#?}");
    let unknown = admin.run(&[&["run", "functions:absent"][..], &ext].concat(), None);
    assert_eq!(
        code(&unknown),
        4,
        "an action that does not exist: {unknown:#?}"
    );

    let bad_name = admin.run(
        &[&["env", "set", "lower-case", "v"][..], &ext].concat(),
        None,
    );
    assert_eq!(code(&bad_name), 2, "a bad value is usage: {bad_name:#?}");
    let unreadable = admin.run(
        &[&["env", "import", "missing.env"][..], &ext].concat(),
        None,
    );
    assert_eq!(code(&unreadable), 1, "other failures: {unreadable:#?}");
}

/// A server that accepts connections and never answers: every call waits.
fn silent_server() -> (std::net::TcpListener, String) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    (listener, url)
}

#[test]
fn a_slow_call_shows_a_spinner_on_a_terminal_only() {
    let (_listener, url) = silent_server();
    let args = [
        "--url",
        &url,
        "--token",
        "lumio_x_0123456789abcdef",
        "extensions",
        "list",
    ];
    // Not a terminal (a pipe, as in scripts): nothing but the error, however long it took.
    let (home, cwd) = (TempDir::new().unwrap(), TempDir::new().unwrap());
    let mut piped = lumio(home.path(), cwd.path());
    piped.args(args);
    let mut child = piped
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1200));
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("waiting"),
        "a spinner on a pipe: {out:?}"
    );

    // A terminal (util-linux `script` gives the command a pseudo-terminal).
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        lumio_store::testing::skip_unless_required(
            "the terminal half: util-linux `script` is not installed",
            None,
        );
        return;
    }
    let line = std::iter::once(env!("CARGO_BIN_EXE_lumio").to_owned())
        .chain(args.iter().map(|a| a.to_string()))
        .collect::<Vec<_>>()
        .join(" ");
    let out = std::process::Command::new("timeout")
        .args(["1.5", "script", "-qfc", &line, "/dev/null"])
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path())
        .output()
        .unwrap();
    let seen = String::from_utf8_lossy(&out.stdout);
    assert!(
        seen.contains("waiting for the Lumio server"),
        "no spinner on a terminal: {seen:?}"
    );
}
