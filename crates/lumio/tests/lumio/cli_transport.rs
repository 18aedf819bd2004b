//! Issue 24: one transport rule for every command, not only `login`: plain http only to
//! this machine (127.0.0.0/8, ::1, `localhost`), and never a URL with a user name or
//! password. Hostile spellings of a loopback-looking URL are refused before any
//! connection, whether they come from `--url`, `LUMIO_URL` or saved credentials.

use std::net::TcpListener;

use crate::support;
use crate::support::{lumio, run, Output};
use tempfile::TempDir;

const TOKEN: &str = "lumio_admin_transport_canary_0123456789";

/// Every kind of command, each sending a token (or, for `run` and `claim`, what stands
/// for one) if it got that far.
const COMMANDS: &[&[&str]] = &[
    &["env", "list", "--extension", "my-ext"],
    &[
        "env",
        "set",
        "API_KEY",
        "sk-transport-canary",
        "--extension",
        "my-ext",
    ],
    &["extensions", "list"],
    &["extensions", "claim", "lumio_claim_transport_canary"],
    &["tokens", "list"],
    &["audit", "--extension", "my-ext"],
    &["run", "functions:x", "--extension", "my-ext"],
    &["whoami"],
    &["login"],
];

fn assert_refused(what: &str, out: &Output, needle: &str) {
    assert_eq!(out.status.code(), Some(2), "{what}: {out:#?}");
    out.err(needle);
    out.never_shows(TOKEN);
    out.never_shows("sk-transport-canary");
    out.never_shows("transport_canary");
}

#[test]
fn hostile_urls_are_refused_by_every_command_before_any_connection() {
    // A listener where the hostile URLs lead: it must see no connection at all.
    let watch = TcpListener::bind("127.0.0.1:0").unwrap();
    watch.set_nonblocking(true).unwrap();
    let port = watch.local_addr().unwrap().port();
    let mapped = format!("http://[::ffff:127.0.0.1]:{port}");
    let userinfo = format!("http://localhost:x@[::ffff:127.0.0.1]:{port}");
    let userinfo_v4 = format!("http://localhost:{port}@127.0.0.1:{port}");
    let (home, cwd) = (TempDir::new().unwrap(), TempDir::new().unwrap());

    for url in [&mapped, &userinfo, &userinfo_v4] {
        let needle = if url == &mapped {
            "over plain http"
        } else {
            "user name or password"
        };
        for args in COMMANDS {
            // From --url with --token.
            let mut cmd = lumio(home.path(), cwd.path());
            cmd.args(*args).args(["--url", url, "--token", TOKEN]);
            assert_refused(&format!("--url {url} {args:?}"), &run(cmd, None), needle);
            // From the environment.
            let mut cmd = lumio(home.path(), cwd.path());
            cmd.args(*args)
                .env("LUMIO_URL", url)
                .env("LUMIO_TOKEN", TOKEN);
            assert_refused(
                &format!("LUMIO_URL={url} {args:?}"),
                &run(cmd, None),
                needle,
            );
        }
    }

    // Credentials saved by an older CLI (or by hand) for such a URL are not used either.
    std::fs::create_dir_all(home.path().join("config")).unwrap();
    std::fs::write(
        home.path().join("config").join("credentials.json"),
        format!("{{\"url\": \"{mapped}\", \"token\": \"{TOKEN}\"}}"),
    )
    .unwrap();
    let mut cmd = lumio(home.path(), cwd.path());
    cmd.args(["env", "list", "--extension", "my-ext"]);
    assert_refused("saved credentials", &run(cmd, None), "over plain http");

    match watch.accept() {
        Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("a hostile URL reached the network: {other:?}"),
    }
    drop(watch);

    // --insecure-http lets plain http reach another host on purpose (here: nobody there).
    let mut cmd = lumio(home.path(), cwd.path());
    cmd.args([
        "extensions",
        "list",
        "--insecure-http",
        "--url",
        &mapped,
        "--token",
        TOKEN,
    ]);
    let out = run(cmd, None);
    assert!(!out.stderr.contains("plain http"), "{out:#?}");
    out.never_shows(TOKEN);
}

/// `lumio login --insecure-http` to a host that is not this machine (here a real server
/// reached as `[::ffff:127.0.0.1]`) is remembered for the URL it saves, and only for it.
#[test]
fn login_insecure_http_is_remembered_for_the_saved_url() {
    let Some(server) = support::server::TestServer::start(support::server::Backend::Sqlite) else {
        return;
    };
    let port = server.url.rsplit(':').next().unwrap();
    let mapped = format!("http://[::ffff:127.0.0.1]:{port}");
    let (home, cwd) = (TempDir::new().unwrap(), TempDir::new().unwrap());
    let lumio_here = |args: &[&str]| {
        let mut cmd = lumio(home.path(), cwd.path());
        cmd.args(args);
        run(cmd, None)
    };
    let refused = lumio_here(&["login", "--url", &mapped, "--token", &server.admin_token]);
    assert_refused("login without --insecure-http", &refused, "over plain http");
    let login = lumio_here(&[
        "login",
        "--url",
        &mapped,
        "--token",
        &server.admin_token,
        "--insecure-http",
    ]);
    if login.stderr.contains("could not reach") {
        lumio_store::testing::skip_unless_required(
            "IPv4-mapped IPv6 addresses do not reach 127.0.0.1 here",
            None,
        );
        return;
    }
    login.ok();
    lumio_here(&["extensions", "list"]).ok();
    // The saved permission is not carried to another URL given by hand.
    let elsewhere = format!("http://[::ffff:127.0.0.2]:{port}");
    let out = lumio_here(&[
        "extensions",
        "list",
        "--url",
        &elsewhere,
        "--token",
        &server.admin_token,
    ]);
    out.err("over plain http");
    out.never_shows(&server.admin_token);
}
