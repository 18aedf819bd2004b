//! The `lumio` binary without a server: help, and every kind of bad input failing with one
//! `error:` line (plus a hint) and a non-zero exit before any network use.

use std::net::TcpListener;

use crate::support::{free_port, lumio, run, Output};
use tempfile::TempDir;

/// A sealed home and working directory for one test.
struct Sandbox {
    home: TempDir,
    cwd: TempDir,
}

impl Sandbox {
    fn new() -> Self {
        Self {
            home: TempDir::new().unwrap(),
            cwd: TempDir::new().unwrap(),
        }
    }

    fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = lumio(self.home.path(), self.cwd.path());
        cmd.args(args);
        run(cmd, stdin)
    }
}

#[test]
fn help_lists_the_commands() {
    let sb = Sandbox::new();
    let help = sb.run(&["--help"], None);
    for command in [
        "server",
        "login",
        "extensions",
        "tokens",
        "env",
        "audit",
        "deploy",
        "run",
        "logs",
    ] {
        assert!(help.ok().contains(command), "{command} missing: {help:#?}");
    }
    let env = sb.run(&["env", "--help"], None);
    for command in ["set", "list", "delete", "import", "history", "rollback"] {
        assert!(env.ok().contains(command), "{command} missing: {env:#?}");
    }
    let server = sb.run(&["server", "--help"], None);
    assert!(server.ok().contains("127.0.0.1:7311"), "{server:#?}");
    assert!(server.ok().contains(".lumio"), "{server:#?}");
    assert!(
        server.ok().contains("--previous-master-key-file"),
        "{server:#?}"
    );
    // `lumio audit --help` lists every event the audit log records, and only those.
    let audit = sb.run(&["audit", "--help"], None);
    for event in [
        "secret.get",
        "secret.set",
        "egress.blocked",
        "token.revoke",
        "deploy",
    ] {
        assert!(audit.ok().contains(event), "{event} missing: {audit:#?}");
    }
    assert!(!audit.ok().contains("secret.read"), "{audit:#?}");
}

#[test]
fn bad_input_fails_before_any_network_use() {
    let sb = Sandbox::new();
    // A server that would notice any connection: it must see none.
    let watch = TcpListener::bind("127.0.0.1:0").unwrap();
    watch.set_nonblocking(true).unwrap();
    let url = format!("http://{}", watch.local_addr().unwrap());
    let conn = ["--url", url.as_str(), "--token", "lumio_t_canary"];
    let cases: &[(&[&str], Option<&str>, &str)] = &[
        (
            &["env", "set", "1BAD", "v", "--extension", "my-ext"],
            None,
            "[A-Za-z_]",
        ),
        (
            &["env", "set", "LUMIO_X", "v", "--extension", "my-ext"],
            None,
            "LUMIO_",
        ),
        (
            &["env", "set", "GOOD", "--extension", "my-ext"],
            Some(""),
            "no value",
        ),
        (
            &["env", "set", "GOOD", "--extension", "my-ext"],
            Some("\n"),
            "no value",
        ),
        (
            &["env", "list", "--extension", "my-ext", "--env", "prod"],
            None,
            "staging or production",
        ),
        (&["env", "list", "--extension", "Bad_Ext"], None, "Bad_Ext"),
        (
            &["env", "delete", "../etc", "--extension", "my-ext"],
            None,
            "../etc",
        ),
        (
            &["env", "history", "A B", "--extension", "my-ext"],
            None,
            "A B",
        ),
        (
            &[
                "env",
                "rollback",
                "A",
                "1",
                "--extension",
                "my-ext",
                "--env",
                "dev",
            ],
            None,
            "dev",
        ),
        (
            &["env", "rollback", "A", "0", "--extension", "my-ext"],
            None,
            "0",
        ),
        (
            &["audit", "--secret", "1x", "--extension", "my-ext"],
            None,
            "1x",
        ),
        (
            &["audit", "--limit", "5000", "--extension", "my-ext"],
            None,
            "5000",
        ),
        (
            &["audit", "--event", "secret.read", "--extension", "my-ext"],
            None,
            "secret.get, secret.denied",
        ),
        (
            &[
                "tokens",
                "create",
                "--role",
                "admin",
                "--extension",
                "my-ext",
            ],
            None,
            "owner, developer or viewer",
        ),
        (&["extensions", "create", "Not A Slug"], None, "Not A Slug"),
        (
            &["env", "import", "missing.env", "--extension", "my-ext"],
            None,
            "missing.env",
        ),
        (
            &["env", "import", "-", "--extension", "my-ext"],
            Some("A=1\nsk-canary\n"),
            "line 2",
        ),
        (
            &["env", "import", "-", "--extension", "my-ext"],
            Some("A=\"sk-canary\n"),
            "line 1",
        ),
        (
            &["run", "functions:x", "{query}", "--extension", "my-ext"],
            None,
            "not valid JSON",
        ),
        (
            &["run", "functions:x", "[1]", "--extension", "my-ext"],
            None,
            "JSON object",
        ),
        (
            &["run", "noColon", "--extension", "my-ext"],
            None,
            "not an action name",
        ),
        (
            &["deploy", "--extension", "my-ext"],
            None,
            "no server/ directory",
        ),
        (
            &["deploy", "missing-dir", "--extension", "my-ext"],
            None,
            "not a directory",
        ),
        (
            &["logs", "--limit", "500", "--extension", "my-ext"],
            None,
            "500",
        ),
    ];
    for (args, stdin, needle) in cases {
        let out = sb.run(&[*args, &conn[..]].concat(), *stdin);
        out.err(needle);
        out.never_shows("lumio_t_canary");
        out.never_shows("sk-canary");
    }
    match watch.accept() {
        Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("a command reached the network: {other:?}"),
    }
}

#[test]
fn missing_extension_says_where_one_can_come_from() {
    let sb = Sandbox::new();
    let out = sb.run(&["env", "list", "--token", "t"], None);
    out.err("no extension");
    let hint = out.hint().expect("a hint");
    for source in ["--extension", "LUMIO_EXTENSION", "lumio.json"] {
        assert!(hint.contains(source), "{hint}");
    }
}

#[test]
fn bad_extension_in_a_parent_lumio_json_is_named() {
    let sb = Sandbox::new();
    std::fs::write(sb.cwd.path().join("lumio.json"), r#"{"extension": "Bad"}"#).unwrap();
    let sub = sb.cwd.path().join("server").join("lib");
    std::fs::create_dir_all(&sub).unwrap();
    let mut cmd = lumio(sb.home.path(), &sub);
    cmd.args(["env", "list", "--token", "t"]);
    let out = run(cmd, None);
    out.err("\"Bad\"");
    assert!(out.hint().unwrap().contains("lumio.json"), "{out:#?}");

    // LUMIO_EXTENSION wins over the file, and is checked the same way.
    let mut cmd = lumio(sb.home.path(), &sub);
    cmd.args(["env", "list", "--token", "t"])
        .env("LUMIO_EXTENSION", "Also_Bad");
    let out = run(cmd, None);
    out.err("Also_Bad");
    assert!(out.hint().unwrap().contains("LUMIO_EXTENSION"), "{out:#?}");
}

#[test]
fn no_token_points_at_login() {
    let sb = Sandbox::new();
    let out = sb.run(&["env", "list", "--extension", "my-ext"], None);
    out.err("no token");
    assert!(out.hint().unwrap().contains("lumio login"), "{out:#?}");
}

#[test]
fn unreachable_server_is_reported_without_secrets() {
    let sb = Sandbox::new();
    let url = format!("http://127.0.0.1:{}", free_port());
    let out = sb.run(
        &[
            "env",
            "set",
            "API_KEY",
            "sk-canary-value",
            "--extension",
            "my-ext",
        ],
        None,
    );
    out.err("no token"); // Without a token nothing is sent at all.
    let out = sb.run(
        &[
            "env",
            "set",
            "API_KEY",
            "sk-canary-value",
            "--extension",
            "my-ext",
            "--url",
            &url,
            "--token",
            "lumio_t_canary",
        ],
        None,
    );
    let stderr = out.err(&format!("could not reach Lumio at {url}"));
    assert!(stderr.contains("lumio server"), "{stderr}");
    out.never_shows("sk-canary-value");
    out.never_shows("lumio_t_canary");

    let piped = sb.run(
        &[
            "env",
            "set",
            "API_KEY",
            "--extension",
            "my-ext",
            "--url",
            &url,
            "--token",
            "t",
        ],
        Some("-----BEGIN KEY-----\nsk-canary-pem\n-----END KEY-----\n"),
    );
    piped.err("could not reach");
    piped.never_shows("sk-canary-pem");
}

#[test]
fn login_against_an_unreachable_url_fails_cleanly() {
    let sb = Sandbox::new();
    let url = format!("http://127.0.0.1:{}", free_port());
    let out = sb.run(&["login", "--url", &url, "--token", "lumio_t_canary"], None);
    out.err("could not reach");
    out.never_shows("lumio_t_canary");
    let piped = sb.run(&["login", "--url", &url], Some("lumio_t_canary\n"));
    piped.err("could not reach");
    piped.never_shows("lumio_t_canary");
    assert!(
        !sb.home.path().join("config").exists(),
        "credentials were written"
    );

    sb.run(&["login", "--url", &url], Some("  \n"))
        .err("no token");
    // Plain http to another host would carry the token in the clear: refused, and said why.
    let plain = sb.run(
        &[
            "login",
            "--url",
            "http://lumio.invalid:7311",
            "--token",
            "lumio_t_canary",
        ],
        None,
    );
    plain.err("over plain http");
    assert!(
        plain.hint().unwrap().contains("--insecure-http"),
        "{plain:#?}"
    );
    plain.never_shows("lumio_t_canary");
    // With --insecure-http it is tried (and here finds no server).
    let insecure = sb.run(
        &[
            "login",
            "--url",
            "http://lumio.invalid:7311",
            "--token",
            "lumio_t_canary",
            "--insecure-http",
        ],
        None,
    );
    assert!(!insecure.status.success());
    assert!(!insecure.stderr.contains("plain http"), "{insecure:#?}");
    insecure.never_shows("lumio_t_canary");
}

#[test]
fn usage_errors_are_one_line_and_never_echo_a_value() {
    let sb = Sandbox::new();
    let out = sb.run(
        &["env", "set", "API_KEY", "sk-canary", "unquoted-rest"],
        None,
    );
    out.err("too many arguments");
    out.never_shows("sk-canary");
    out.never_shows("unquoted-rest");
    let out = sb.run(&["env", "rollback", "API_KEY", "latest"], None);
    out.err("latest");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        out.hint().unwrap().contains("lumio env rollback --help"),
        "{out:#?}"
    );
}
