//! The `lumio` CLI against a real `lumio server`, on SQLite and on PostgreSQL: every
//! command of SPEC §3 that exists today, as a user would type it.
//!
//! Each scenario is a function taking the [`Backend`]; `on_each_backend!` (`lumio_store::testing`) turns it into one test per store.
//! PostgreSQL tests skip (loudly) when no server is reachable, unless
//! `LUMIO_REQUIRE_POSTGRES=1`.

use crate::support::server::{Backend, Shell, TestServer};
use lumio_store::on_each_backend;
use serde_json::Value;

const PEM: &str = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n-----END PRIVATE KEY-----";

on_each_backend!(
    set_list_delete,
    set_from_stdin_keeps_a_multiline_pem,
    import_dotenv,
    malformed_dotenv_names_the_line_and_imports_nothing,
    history_and_rollback,
    audit_log,
    extensions_create_and_list,
    tokens_and_roles,
    json_outputs_parse,
    lumio_json_is_found_from_a_subdirectory,
    environments_do_not_mix,
    login_saves_credentials,
);

/// A server with extension `my-ext`, and its admin's shell.
fn setup(db: Backend) -> Option<(TestServer, Shell)> {
    let server = TestServer::start(db)?;
    let admin = server.admin();
    admin.ok(&["extensions", "create", "my-ext"]);
    Some((server, admin))
}

const EXT: [&str; 2] = ["--extension", "my-ext"];

fn with_ext<'a>(args: &[&'a str]) -> Vec<&'a str> {
    [args, &EXT].concat()
}

fn set_list_delete(db: Backend) {
    let Some((_server, admin)) = setup(db) else {
        return;
    };
    let out = admin.run(
        &with_ext(&["env", "set", "MY_API_KEY", "sk-abc123-canary"]),
        None,
    );
    assert_eq!(out.ok(), "Set MY_API_KEY (version 1) in my-ext/staging\n");
    out.never_shows("sk-abc123-canary");
    let again = admin.ok(&with_ext(&["env", "set", "MY_API_KEY", "sk-abc124-canary"]));
    assert!(again.contains("(version 2)"), "{again}");

    let list = admin.run(&with_ext(&["env", "list"]), None);
    let row = list
        .ok()
        .lines()
        .find(|l| l.starts_with("MY_API_KEY"))
        .unwrap();
    assert!(row.split_whitespace().nth(1) == Some("2"), "{list:#?}");
    list.never_shows("sk-abc12");

    admin.ok(&with_ext(&["env", "delete", "MY_API_KEY"]));
    assert!(!admin.ok(&with_ext(&["env", "list"])).contains("MY_API_KEY"));
    admin
        .run(&with_ext(&["env", "delete", "MY_API_KEY"]), None)
        .err("MY_API_KEY");
}

fn set_from_stdin_keeps_a_multiline_pem(db: Backend) {
    let Some((_server, admin)) = setup(db) else {
        return;
    };
    let out = admin.run(
        &with_ext(&["env", "set", "TLS_KEY"]),
        Some(&format!("{PEM}\n")),
    );
    assert!(out.ok().contains("Set TLS_KEY (version 1)"), "{out:#?}");
    out.never_shows("MIIEvQIBADANBgkqhkiG9w0BAQEFAASC");
    let history = admin.json(&with_ext(&["env", "history", "TLS_KEY"]));
    assert_eq!(history["current_version"], 1);
}

fn import_dotenv(db: Backend) {
    let Some((_server, admin)) = setup(db) else {
        return;
    };
    let dotenv = format!(
        "# a comment\n\nexport PLAIN=1\nQUOTED=\"two words\" # trailing comment\n\
         SINGLE='no $expansion'\nTLS_KEY=\"{PEM}\"\n"
    );
    let file = admin.home.path().join(".env");
    std::fs::write(&file, &dotenv).unwrap();
    let out = admin.run(&with_ext(&["env", "import", file.to_str().unwrap()]), None);
    assert!(
        out.ok().contains("Imported 4 secrets into my-ext/staging"),
        "{out:#?}"
    );
    for name in ["PLAIN", "QUOTED", "SINGLE", "TLS_KEY"] {
        assert!(
            out.ok().contains(&format!("{name} (version 1)")),
            "{out:#?}"
        );
    }
    out.never_shows("two words");
    out.never_shows("MIIEvQIBADANBgkqhkiG9w0BAQEFAASC");

    // `-` reads standard input; an import of a name that exists makes a new version.
    let out = admin.run(&with_ext(&["env", "import", "-"]), Some("PLAIN=2\n"));
    assert!(out.ok().contains("PLAIN (version 2)"), "{out:#?}");
}

fn malformed_dotenv_names_the_line_and_imports_nothing(db: Backend) {
    let Some((_server, admin)) = setup(db) else {
        return;
    };
    let out = admin.run(
        &with_ext(&["env", "import", "-"]),
        Some("GOOD=1\nthis line is not a pair\nALSO_GOOD=2\n"),
    );
    out.err("2");
    assert!(out.stderr.contains("line 2"), "{out:#?}");
    let list = admin.ok(&with_ext(&["env", "list"]));
    assert!(!list.contains("GOOD"), "half an import was written: {list}");
}

fn history_and_rollback(db: Backend) {
    let Some((_server, admin)) = setup(db) else {
        return;
    };
    for value in ["v1-canary", "v2-canary", "v3-canary"] {
        admin.ok(&with_ext(&["env", "set", "ROTATED", value]));
    }
    let history = admin.run(&with_ext(&["env", "history", "ROTATED"]), None);
    let lines: Vec<&str> = history.ok().lines().collect();
    assert!(lines[0].starts_with("VERSION"), "{history:#?}");
    assert_eq!(lines.len(), 4, "{history:#?}");
    let current: Vec<&&str> = lines.iter().filter(|l| l.ends_with("current")).collect();
    assert!(
        current.len() == 1 && current[0].starts_with('3'),
        "{history:#?}"
    );
    history.never_shows("-canary");

    let rolled = admin.ok(&with_ext(&["env", "rollback", "ROTATED", "1"]));
    assert!(rolled.contains("now version 4"), "{rolled}");
    let json = admin.json(&with_ext(&["env", "history", "ROTATED"]));
    assert_eq!(json["current_version"], 4);
    admin
        .run(&with_ext(&["env", "rollback", "ROTATED", "99"]), None)
        .err("99");
}

fn audit_log(db: Backend) {
    let Some((_server, admin)) = setup(db) else {
        return;
    };
    admin.ok(&with_ext(&["env", "set", "A", "audit-canary"]));
    admin.ok(&with_ext(&["env", "set", "B", "audit-canary"]));
    admin.ok(&with_ext(&["env", "delete", "A"]));

    let table = admin.run(&with_ext(&["audit"]), None);
    assert!(
        table.ok().lines().next().unwrap().starts_with("TIME"),
        "{table:#?}"
    );
    // Newest first: the delete comes before the sets.
    let events: Vec<&str> = table
        .ok()
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().nth(1).unwrap())
        .collect();
    assert_eq!(events.first(), Some(&"secret.delete"), "{table:#?}");
    assert!(events.contains(&"secret.set"), "{table:#?}");
    table.never_shows("audit-canary");

    let only_sets = admin.json(&with_ext(&["audit", "--event", "secret.set"]));
    let entries = only_sets["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert!(entries.iter().all(|e| e["event"] == "secret.set"));
    let about_b = admin.json(&with_ext(&["audit", "--secret", "B"]));
    assert!(about_b["entries"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["secret"] == "B"));
    let one = admin.json(&with_ext(&["audit", "--limit", "1"]));
    assert_eq!(one["entries"].as_array().unwrap().len(), 1);
}

fn extensions_create_and_list(db: Backend) {
    let Some((_server, admin)) = setup(db) else {
        return;
    };
    let out = admin.ok(&["extensions", "create", "espn-scores"]);
    assert!(out.contains("Created extension espn-scores"), "{out}");
    let list = admin.ok(&["extensions", "list"]);
    assert!(
        list.contains("my-ext") && list.contains("espn-scores"),
        "{list}"
    );
    admin
        .run(&["extensions", "create", "my-ext"], None)
        .err("my-ext");
    admin
        .run(&["env", "list", "--extension", "no-such-ext"], None)
        .err("no-such-ext");
}

fn tokens_and_roles(db: Backend) {
    let Some((server, admin)) = setup(db) else {
        return;
    };
    admin.ok(&with_ext(&["env", "set", "EXISTING", "x"]));
    let viewer_token = admin.ok(&with_ext(&["tokens", "create", "--role", "viewer"]));
    let viewer_token = viewer_token.trim();
    assert!(viewer_token.starts_with("lumio_"), "{viewer_token}");

    let viewer = server.shell(viewer_token);
    assert!(viewer.ok(&with_ext(&["env", "list"])).contains("EXISTING"));
    let refused = viewer.run(&with_ext(&["env", "set", "NEW", "viewer-canary"]), None);
    refused.err("");
    refused.never_shows("viewer-canary");
    refused.never_shows(viewer_token);
    viewer
        .run(&with_ext(&["tokens", "create", "--role", "owner"]), None)
        .err("");
    viewer.run(&["extensions", "create", "mine"], None).err("");

    let created = admin.json(&with_ext(&[
        "tokens",
        "create",
        "--role",
        "developer",
        "--label",
        "ci",
    ]));
    assert_eq!(created["role"], "developer");
    let developer = server.shell(created["token"].as_str().unwrap());
    developer.ok(&with_ext(&["env", "set", "NEW", "dev-canary"]));

    // A token of my-ext learns nothing about another extension.
    admin.ok(&["extensions", "create", "other-ext"]);
    developer
        .run(&["env", "list", "--extension", "other-ext"], None)
        .err("other-ext");
    let bad = server.shell("lumio_nope_nope");
    let out = bad.run(&with_ext(&["env", "list"]), None);
    out.err("");
    assert!(out.hint().unwrap().contains("lumio login"), "{out:#?}");
}

fn json_outputs_parse(db: Backend) {
    let Some((_server, admin)) = setup(db) else {
        return;
    };
    let set = admin.json(&with_ext(&["env", "set", "A", "json-canary"]));
    assert_eq!(
        (set["name"].as_str(), set["version"].as_u64()),
        (Some("A"), Some(1))
    );
    assert!(!set.to_string().contains("json-canary"));
    let all: [&[&str]; 6] = [
        &["env", "list"],
        &["env", "history", "A"],
        &["env", "rollback", "A", "1"],
        &["audit"],
        &["extensions", "list"],
        &["env", "delete", "A"],
    ];
    for args in all {
        let value: Value = admin.json(&with_ext(args));
        assert!(value.is_object(), "{args:?}: {value}");
    }
}

fn lumio_json_is_found_from_a_subdirectory(db: Backend) {
    let Some((_server, admin)) = setup(db) else {
        return;
    };
    let project = admin.home.path().join("project");
    let deep = project.join("server").join("lib");
    std::fs::create_dir_all(&deep).unwrap();
    std::fs::write(project.join("lumio.json"), r#"{"extension": "my-ext"}"#).unwrap();
    admin
        .run_in(&deep, &["env", "set", "FOUND", "1"], None)
        .ok();
    assert!(admin.ok(&with_ext(&["env", "list"])).contains("FOUND"));
    // --extension still wins over the file.
    admin.ok(&["extensions", "create", "other-ext"]);
    let out = admin.run_in(&deep, &["env", "list", "--extension", "other-ext"], None);
    assert!(!out.ok().contains("FOUND"), "{out:#?}");
}

fn environments_do_not_mix(db: Backend) {
    let Some((_server, admin)) = setup(db) else {
        return;
    };
    admin.ok(&with_ext(&[
        "env",
        "set",
        "PROD_ONLY",
        "p",
        "--env",
        "production",
    ]));
    assert!(!admin.ok(&with_ext(&["env", "list"])).contains("PROD_ONLY"));
    let prod = admin.ok(&with_ext(&["env", "list", "--env", "production"]));
    assert!(prod.contains("PROD_ONLY"), "{prod}");
}

fn login_saves_credentials(db: Backend) {
    let Some((server, _admin)) = setup(db) else {
        return;
    };
    let shell = server.anonymous_shell();
    shell
        .run(
            &["login", "--url", &server.url, "--token", "lumio_bad_token"],
            None,
        )
        .err("refused");
    let out = shell.run(
        &["login", "--url", &server.url],
        Some(&format!("{}\n", server.admin_token)),
    );
    assert!(out.ok().contains("instance admin"), "{out:#?}");
    out.never_shows(&server.admin_token);
    assert!(shell.ok(&["extensions", "list"]).contains("my-ext"));
}
