//! Issue 27: `lumio init` with the real binary. The project it writes deploys to a real
//! server as it is and its actions run (`hello` at once, `callExternalApi` once its
//! secret is set and its URL points at a fake API); it never overwrites a file, and then
//! writes nothing at all. (`scripts/test`'s SDK check type-checks the same project with
//! `tsc`.)

use std::fs;

use crate::support::fake_api::FakeApi;
use crate::support::project::Project;
use crate::support::server::{Backend, TestServer};
use crate::support::{lumio, run};
use lumio_store::on_each_backend;
use serde_json::{json, Value};
use tempfile::TempDir;

on_each_backend!(an_initialised_project_deploys_and_runs);

const FILES: [&str; 4] = [
    "lumio.json",
    "server/functions.ts",
    "tsconfig.json",
    "package.json",
];

fn an_initialised_project_deploys_and_runs(db: Backend) {
    let Some(server) = TestServer::start(db) else {
        return;
    };
    let admin = server.admin();
    admin.ok(&["extensions", "create", "starter"]);
    // `lumio init starter` in an empty directory: the extension is named after DIR.
    let parent = Project::empty();
    let init = admin.run_in(parent.path(), &["init", "starter"], None);
    let printed = init.ok();
    for step in [
        "cd starter",
        "npm install",
        "lumio deploy",
        "lumio run functions:hello",
    ] {
        assert!(
            printed.contains(step),
            "next steps lack {step:?}: {init:#?}"
        );
    }
    let dir = parent.path().join("starter");
    for file in FILES {
        assert!(dir.join(file).is_file(), "{file} was not written");
    }
    let lumio_json: Value =
        serde_json::from_str(&fs::read_to_string(dir.join("lumio.json")).unwrap()).unwrap();
    assert_eq!(lumio_json, json!({"extension": "starter"}));

    // Deployed from its own directory, as the next steps say.
    let deployed = admin.run_in(&dir, &["deploy"], None);
    let line = deployed.ok();
    assert!(
        line.starts_with("Deployed starter/staging version 1: "),
        "{deployed:#?}"
    );
    let hello = admin.run_in(
        &dir,
        &["run", "functions:hello", r#"{"name": "Ada"}"#],
        None,
    );
    let result: Value = serde_json::from_str(hello.ok()).unwrap();
    assert_eq!(result, json!({"greeting": "Hello, Ada!"}));

    // The secret-reading action, with its key set and its API on loopback (the test
    // server allows private fetches).
    let api = FakeApi::start();
    let project = Project::empty();
    admin
        .run_in(project.path(), &["init", "--extension", "starter"], None)
        .ok();
    project.rewrite("https://api.example.com", &api.url);
    let run_in = |args: &[&str]| admin.run_in(project.path(), args, None);
    run_in(&["deploy"]).ok();
    run_in(&["run", "functions:callExternalApi", r#"{"query": "x"}"#])
        .err("MY_API_KEY is not configured");
    run_in(&["env", "set", "MY_API_KEY", "sk-init-canary"]).ok();
    api.expect_key("sk-init-canary");
    let out = run_in(&["run", "functions:callExternalApi", r#"{"query": "x"}"#]);
    let result: Value = serde_json::from_str(out.ok()).unwrap();
    assert_eq!(result["ok"], true, "{out:#?}");
    assert_eq!(result["received"], json!({"query": "x"}));
    out.never_shows("sk-init-canary");
}

/// An existing file is never overwritten: the error names it, and none of the other
/// files is written either.
#[test]
fn init_refuses_to_overwrite_and_writes_nothing() {
    let (home, cwd) = (TempDir::new().unwrap(), TempDir::new().unwrap());
    let dir = cwd.path().join("taken");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("tsconfig.json"), "{ \"mine\": true }\n").unwrap();
    let mut cmd = lumio(home.path(), cwd.path());
    cmd.args(["init", "taken"]);
    let out = run(cmd, None);
    assert_eq!(out.status.code(), Some(5), "{out:#?}");
    out.err("tsconfig.json already exists; lumio init wrote nothing");
    assert!(out.hint().unwrap().contains("empty directory"), "{out:#?}");
    assert_eq!(
        fs::read_to_string(dir.join("tsconfig.json")).unwrap(),
        "{ \"mine\": true }\n"
    );
    let left: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        left,
        ["tsconfig.json"],
        "init wrote beside the existing file"
    );

    // A name the server would refuse is refused before anything is written.
    let mut cmd = lumio(home.path(), cwd.path());
    cmd.args(["init", "Bad_Name"]);
    let out = run(cmd, None);
    assert_eq!(out.status.code(), Some(2), "{out:#?}");
    out.err("Bad_Name");
    assert!(out.hint().unwrap().contains("--extension"), "{out:#?}");
    assert!(
        !cwd.path().join("Bad_Name").exists(),
        "a refused init made its directory"
    );
}
