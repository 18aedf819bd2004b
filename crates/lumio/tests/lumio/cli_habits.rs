//! Issue 24: what users of gh, wrangler, doppler and vault reach for first: `whoami`,
//! `logout`, a question before what cannot be undone (`--yes` for scripts), several
//! pairs in one `env set`, `--from-file`, and no colour codes off a terminal.

use std::io::{Read, Write};
use std::process::{Command, Stdio};

use crate::support;
use crate::support::server::{Backend, Shell, TestServer};
use crate::support::{lumio, run};
use tempfile::TempDir;

fn status(out: &support::Output) -> i32 {
    out.status.code().expect("exited, not killed")
}

#[test]
fn whoami_says_who_the_token_is_and_logout_forgets_it() {
    let Some(server) = TestServer::start(Backend::Sqlite) else {
        return;
    };
    let admin = server.admin();
    admin.ok(&["extensions", "create", "habits"]);

    let user = server.anonymous_shell();
    user.run(
        &[
            "login",
            "--url",
            &server.url,
            "--token",
            &server.admin_token,
        ],
        None,
    )
    .ok();
    let me = user.ok(&["whoami"]);
    assert!(me.contains("instance-admin token"), "{me}");
    assert!(me.contains(&server.url), "{me}");
    assert!(
        me.contains("both environments") && me.contains("never expires"),
        "{me}"
    );
    let json = user.json(&["whoami"]);
    assert_eq!(json["url"], server.url.as_str(), "{json}");
    assert_eq!(json["admin"], true, "{json}");

    let developer = admin
        .ok(&[
            "tokens",
            "create",
            "--extension",
            "habits",
            "--role",
            "developer",
            "--env",
            "staging",
            "--expires-in",
            "1d",
        ])
        .trim()
        .to_owned();
    let dev = server.shell(&developer).ok(&["whoami"]);
    for part in [
        "developer token of extension habits",
        "staging only",
        "expires ",
    ] {
        assert!(dev.contains(part), "{part}: {dev}");
    }
    assert!(
        !dev.contains(&developer),
        "the token itself is never shown: {dev}"
    );

    // logout forgets the saved token; the next command has none (exit 3, as the table says).
    let other = user.run(&["logout", "--url", "http://127.0.0.1:1"], None);
    assert!(other.ok().contains("nothing forgotten"), "{other:#?}");
    let out = user.run(&["logout"], None);
    assert!(out.ok().contains("Forgot the token for"), "{out:#?}");
    out.never_shows(&server.admin_token);
    let after = user.run(&["whoami"], None);
    assert_eq!(status(&after), 3, "{after:#?}");
    after.err("no token");
    let again = user.run(&["logout"], None);
    assert!(again.ok().contains("nothing to forget"), "{again:#?}");
}

/// Runs `args` in a pseudo-terminal (util-linux `script`) with `typed` as what the user
/// types; `None` without `script`.
fn at_a_terminal(shell: &Shell, args: &[&str], typed: &str) -> Option<String> {
    if Command::new("script").arg("--version").output().is_err() {
        lumio_store::testing::skip_unless_required(
            "the terminal half: util-linux `script` is not installed",
            None,
        );
        return None;
    }
    let line = std::iter::once(env!("CARGO_BIN_EXE_lumio"))
        .chain(args.iter().copied())
        .collect::<Vec<_>>()
        .join(" ");
    let mut child = Command::new("timeout")
        .args(["20", "script", "-qfc", &line, "/dev/null"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", shell.home.path())
        .env("LUMIO_CONFIG_DIR", shell.home.path().join("config"))
        .env("LUMIO_URL", &shell.url)
        .env("LUMIO_TOKEN", shell.token.as_deref().unwrap_or_default())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Typed once the question is up (`timeout` ends a command that never asks); the
    // terminal echoes it back.
    let mut stdout = child.stdout.take().unwrap();
    let mut seen = Vec::new();
    let mut chunk = [0; 512];
    while !String::from_utf8_lossy(&seen).contains("to confirm") {
        match stdout.read(&mut chunk).unwrap() {
            0 => break,
            n => seen.extend_from_slice(&chunk[..n]),
        }
    }
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(typed.as_bytes()).unwrap();
    stdin.flush().unwrap();
    // `script` ends the session at the end of its input: that stays open until the
    // command has answered and exited.
    stdout.read_to_end(&mut seen).unwrap();
    drop(stdin);
    child.wait().unwrap();
    Some(String::from_utf8_lossy(&seen).into_owned())
}

#[test]
fn what_cannot_be_undone_is_asked_or_needs_yes() {
    let Some(server) = TestServer::start(Backend::Sqlite) else {
        return;
    };
    let admin = server.admin();
    admin.ok(&["extensions", "create", "doomed"]);
    let ext = ["--extension", "doomed"];
    admin.ok(&[&["env", "set", "OLD", "v1"][..], &ext].concat());
    admin.ok(&[&["env", "set", "OLD", "v2"][..], &ext].concat());

    // No terminal to ask on (a pipe, as in scripts): refused, saying how to confirm.
    let purge = admin.run(
        &[&["env", "delete", "OLD", "--purge"][..], &ext].concat(),
        None,
    );
    assert_eq!(status(&purge), 2, "{purge:#?}");
    purge.err("not a terminal");
    assert!(
        purge.hint().unwrap().contains("--purge --yes"),
        "{purge:#?}"
    );
    let history = admin.ok(&[&["env", "history", "OLD"][..], &ext].concat());
    assert!(history.contains("current"), "nothing was erased: {history}");
    let delete = admin.run(&["extensions", "delete", "doomed"], None);
    assert_eq!(status(&delete), 2, "{delete:#?}");
    delete.err("not a terminal");
    assert!(delete
        .hint()
        .unwrap()
        .contains("lumio extensions delete doomed --yes"));
    assert!(admin.ok(&["extensions", "list"]).contains("doomed"));

    // At a terminal: the wrong answer does nothing, the name goes on.
    if let Some(seen) = at_a_terminal(
        &admin,
        &[&["env", "delete", "OLD", "--purge"][..], &ext].concat(),
        "old\n",
    ) {
        assert!(seen.contains("Type OLD to confirm"), "{seen}");
        assert!(seen.contains("not confirmed"), "{seen}");
        assert!(admin
            .ok(&[&["env", "history", "OLD"][..], &ext].concat())
            .contains("current"));
        let seen = at_a_terminal(
            &admin,
            &[&["env", "delete", "OLD", "--purge"][..], &ext].concat(),
            "OLD\n",
        )
        .unwrap();
        assert!(seen.contains("erased all its versions"), "{seen}");
    } else {
        admin.ok(&[&["env", "delete", "OLD", "--purge", "--yes"][..], &ext].concat());
    }

    // --yes for scripts.
    admin.ok(&["extensions", "delete", "doomed", "--yes"]);
    assert!(!admin.ok(&["extensions", "list"]).contains("doomed"));
}

fn with<'a>(args: &[&'a str]) -> Vec<&'a str> {
    [args, &["--extension", "forms"][..]].concat()
}

#[test]
fn env_set_takes_pairs_and_files() {
    let Some(server) = TestServer::start(Backend::Sqlite) else {
        return;
    };
    let admin = server.admin();
    admin.ok(&["extensions", "create", "forms"]);

    let out = admin.run(
        &with(&["env", "set", "A=pair-canary-1", "B=pair-canary-2"]),
        None,
    );
    assert!(
        out.ok().contains("A (version 1), B (version 1)"),
        "{out:#?}"
    );
    out.never_shows("pair-canary");
    let file = admin.home.path().join("value.txt");
    std::fs::write(&file, "file-canary\n").unwrap();
    let out = admin.run(
        &with(&["env", "set", "C", "--from-file", file.to_str().unwrap()]),
        None,
    );
    assert!(out.ok().contains("Set C (version 1)"), "{out:#?}");
    out.never_shows("file-canary");
    let listed = admin.json(&with(&["env", "list"]));
    let names: Vec<&str> = listed["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(names, ["A", "B", "C"], "{listed}");

    // Refused before anything is sent, never echoing a word that may be a value.
    for (args, needle) in [
        (
            &["env", "set", "D=1", "pair-canary-3"][..],
            "argument 2 is not NAME=VALUE",
        ),
        (&["env", "set", "D=1", "D=2"][..], "D is given twice"),
        (
            &["env", "set", "D", "pair-canary-3", "--from-file", "x"][..],
            "given twice",
        ),
        (
            &["env", "set", "D=pair-canary-3", "--allow-host", "a.example"][..],
            "--allow-host",
        ),
        (
            &["env", "set", "D", "--from-file", "missing-file"][..],
            "missing-file",
        ),
    ] {
        let out = admin.run(&with(args), None);
        out.err(needle);
        out.never_shows("pair-canary");
    }
    let listed = admin.json(&with(&["env", "list"]));
    assert_eq!(
        listed["secrets"].as_array().unwrap().len(),
        3,
        "nothing set: {listed}"
    );
}

#[test]
fn no_colour_codes_off_a_terminal() {
    let (home, cwd) = (TempDir::new().unwrap(), TempDir::new().unwrap());
    for args in [
        &["--help"][..],
        &["env", "list", "--bogus"],
        &["env", "list"],
    ] {
        let mut cmd = lumio(home.path(), cwd.path());
        cmd.args(args);
        let out = run(cmd, None);
        assert!(
            !out.stdout.contains('\u{1b}') && !out.stderr.contains('\u{1b}'),
            "{args:?}: {out:#?}"
        );
    }
    // On a terminal, NO_COLOR turns colours off too.
    if Command::new("script").arg("--version").output().is_err() {
        lumio_store::testing::skip_unless_required(
            "the terminal half: util-linux `script` is not installed",
            None,
        );
        return;
    }
    let line = format!("{} env list --help", env!("CARGO_BIN_EXE_lumio"));
    let seen = |no_color: bool| {
        let mut script = Command::new("script");
        script
            .args(["-qc", &line, "/dev/null"])
            .env_remove("NO_COLOR");
        if no_color {
            script.env("NO_COLOR", "1");
        }
        String::from_utf8_lossy(&script.output().unwrap().stdout).into_owned()
    };
    assert!(
        seen(false).contains('\u{1b}'),
        "colours on a terminal: {}",
        seen(false)
    );
    assert!(!seen(true).contains('\u{1b}'), "NO_COLOR: {}", seen(true));
}
