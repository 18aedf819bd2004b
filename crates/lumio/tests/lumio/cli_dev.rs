//! Issue 27, the developer's loop: `lumio dev` against a real server with a project whose
//! TypeScript comes from the npm registry (deploy at start and on save, type errors
//! deploy nothing, staging's logs followed masked, Ctrl-C exits 0), `lumio deploy
//! --typecheck`, and deploy's refusal of grant names that are not secret names.
//!
//! Everything waits by polling with generous deadlines: the machine may be slow and busy.

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::project::{tsconfig, Project};
use crate::support::server::{Backend, Shell, TestServer};
use crate::support::{lumio, Output};

const EXT: &str = "dev-loop";
/// How long anything may take on a loaded two-core machine.
const PATIENCE: Duration = Duration::from_secs(120);

/// An action that logs its secret (the logs must show it masked) and returns `greeting`.
fn hello_ts(greeting: &str) -> String {
    // `console` through globalThis: the test does not depend on which globals the SDK's
    // types declare.
    format!(
        r#"import {{ action, v }} from "@zaflun/lumio-sdk/server";
export const hello = action({{
  args: {{ name: v.string() }},
  secrets: ["GREETING_KEY"],
  handler: async (ctx, args) => {{
    const key = ctx.secrets.get("GREETING_KEY");
    (globalThis as any).console.log(`key is ${{key}}`);
    return `{greeting} ${{args.name}}`;
  }},
}});
"#
    )
}

/// A server with extension `dev-loop` and a project for it (lumio.json, tsconfig.json,
/// server/functions.ts; TypeScript not yet installed).
struct Setup {
    server: TestServer,
    admin: Shell,
    project: Project,
}

impl Setup {
    fn start() -> Option<Self> {
        let server = TestServer::start(Backend::Sqlite)?;
        let admin = server.admin();
        admin.ok(&["extensions", "create", EXT]);
        let project = Project::empty();
        project.write("lumio.json", &format!("{{\"extension\": \"{EXT}\"}}"));
        project.write("tsconfig.json", &tsconfig());
        project.write("server/functions.ts", &hello_ts("hello"));
        Some(Self {
            server,
            admin,
            project,
        })
    }

    /// `lumio ARGS` as the admin, in the project.
    fn run(&self, args: &[&str]) -> Output {
        self.admin.run_in(self.project.path(), args, None)
    }

    /// How many deployments staging has, from the API.
    fn deployments(&self) -> usize {
        let url = format!(
            "{}/api/v1/extensions/{EXT}/environments/staging/deployments",
            self.server.url
        );
        let answer: Value = reqwest::blocking::Client::new()
            .get(url)
            .bearer_auth(&self.server.admin_token)
            .send()
            .and_then(|r| r.error_for_status())
            .and_then(|r| r.json())
            .expect("list deployments");
        answer["deployments"].as_array().expect("a list").len()
    }
}

/// `lumio dev` running in the background, its stdout and stderr gathered as they come.
struct Dev {
    child: Child,
    out: Arc<Mutex<String>>,
}

impl Dev {
    fn start(setup: &Setup, args: &[&str]) -> Self {
        let mut cmd = lumio(setup.admin.home.path(), setup.project.path());
        cmd.env("LUMIO_URL", &setup.server.url)
            .env("LUMIO_TOKEN", &setup.server.admin_token)
            .arg("dev")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("start lumio dev");
        let out = Arc::new(Mutex::new(String::new()));
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        gather(stdout, Arc::clone(&out));
        gather(stderr, Arc::clone(&out));
        Self { child, out }
    }

    fn text(&self) -> String {
        self.out.lock().unwrap().clone()
    }

    /// Waits until the output, from byte `from` on, contains `needle`.
    #[track_caller]
    fn wait_for(&mut self, from: usize, needle: &str) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let text = self.text();
            if text.get(from..).is_some_and(|t| t.contains(needle)) {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("lumio dev exited ({status}) before printing {needle:?}:\n{text}");
            }
            assert!(
                Instant::now() < deadline,
                "lumio dev never printed {needle:?}:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Sends SIGINT (what Ctrl-C sends) and waits for the exit status.
    fn interrupt(&mut self) -> std::process::ExitStatus {
        let sent = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success());
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "lumio dev did not stop on SIGINT:\n{}",
                self.text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Dev {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Appends what `pipe` gives to `out` until it closes.
fn gather(mut pipe: impl Read + Send + 'static, out: Arc<Mutex<String>>) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = pipe.read(&mut buf) {
            if n == 0 {
                break;
            }
            out.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
}

/// Waits until staging has `count` deployments.
#[track_caller]
fn wait_for_deployments(setup: &Setup, dev: &Dev, count: usize) {
    let deadline = Instant::now() + PATIENCE;
    while setup.deployments() != count {
        assert!(
            Instant::now() < deadline,
            "staging never reached {count} deployments (has {}):\n{}",
            setup.deployments(),
            dev.text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn dev_deploys_on_save_follows_masked_logs_and_stops_on_ctrl_c() {
    let Some(setup) = Setup::start() else {
        return;
    };
    if !setup.project.install_typescript() {
        return;
    }
    let canary = format!("dev-canary-{}", std::process::id());
    setup.run(&["env", "set", "GREETING_KEY", &canary]).ok();

    let mut dev = Dev::start(&setup, &[]);
    // The first deploy, at start, with the grants the deploy answered.
    dev.wait_for(0, "Deployed dev-loop/staging version 1: functions:hello");
    dev.wait_for(0, "functions:hello  secrets: GREETING_KEY");
    assert!(dev.text().contains("Type-checking"), "{}", dev.text());
    assert_eq!(setup.deployments(), 1);

    // A save redeploys.
    let mark = dev.text().len();
    setup
        .project
        .write("server/functions.ts", &hello_ts("bonjour"));
    wait_for_deployments(&setup, &dev, 2);
    dev.wait_for(mark, "Deployed dev-loop/staging version 2");
    let run = setup.run(&["run", "functions:hello", r#"{"name":"dev"}"#]);
    assert_eq!(run.ok().trim(), "\"bonjour dev\"");

    // The invocation shows up in dev's output: masked console line and the read.
    dev.wait_for(mark, "[REDACTED:GREETING_KEY]");
    dev.wait_for(mark, "read GREETING_KEY: found");

    // A type error: tsc's message, nothing deployed, the old code keeps serving.
    let mark = dev.text().len();
    setup.project.write(
        "server/functions.ts",
        &hello_ts("hallo").replace(
            "const key =",
            "const wrong: number = \"not a number\";\n    const key =",
        ),
    );
    dev.wait_for(mark, "error TS2322");
    dev.wait_for(mark, "nothing was deployed");
    dev.wait_for(mark, "still runs version 2");
    assert_eq!(setup.deployments(), 2, "{}", dev.text());
    let run = setup.run(&["run", "functions:hello", r#"{"name":"dev"}"#]);
    assert_eq!(run.ok().trim(), "\"bonjour dev\"");

    // The type error fixed, and a module that type-checks but throws when the server
    // loads it: the server's error, printed, and the loop goes on.
    let mark = dev.text().len();
    setup.project.write(
        "server/broken.ts",
        "if ((globalThis as any).Lumio === undefined) throw new Error(\"broken at load\");\nexport const broken = 1;\n",
    );
    setup.project.write("server/functions.ts", &hello_ts("hej"));
    dev.wait_for(mark, "broken at load");
    dev.wait_for(mark, "still runs version 2");
    assert_eq!(setup.deployments(), 2, "{}", dev.text());
    setup.project.remove("server/broken.ts");
    wait_for_deployments(&setup, &dev, 3);
    let run = setup.run(&["run", "functions:hello", r#"{"name":"dev"}"#]);
    assert_eq!(run.ok().trim(), "\"hej dev\"");

    let status = dev.interrupt();
    let text = dev.text();
    assert_eq!(status.code(), Some(0), "{text}");
    assert!(!text.contains(&canary), "dev printed the secret:\n{text}");
    assert!(!setup.server.log().contains(&canary));
}

/// `--no-typecheck`: code tsc would refuse is deployed (the runtime only strips types).
#[test]
fn dev_without_typecheck_deploys_what_tsc_would_refuse() {
    let Some(setup) = Setup::start() else {
        return;
    };
    if !setup.project.install_typescript() {
        return;
    }
    setup.project.write(
        "server/functions.ts",
        &hello_ts("typed").replace("args.name", "(args.name as number)"),
    );
    let mut dev = Dev::start(&setup, &["--no-typecheck"]);
    dev.wait_for(0, "Deploying without a type check");
    dev.wait_for(0, "Deployed dev-loop/staging version 1");
    assert!(!dev.text().contains("error TS"), "{}", dev.text());
    assert_eq!(dev.interrupt().code(), Some(0), "{}", dev.text());
}

/// `lumio dev` refuses what it does not do, before anything is deployed.
#[test]
fn dev_refuses_production_and_json() {
    let Some(setup) = Setup::start() else {
        return;
    };
    let out = setup.run(&["dev", "--env", "production"]);
    out.err("staging only");
    assert_eq!(out.status.code(), Some(2), "{out:#?}");
    setup.run(&["dev", "--json"]).err("--json");
    assert_eq!(setup.deployments(), 0);
}

#[test]
fn deploy_typecheck_needs_typescript_and_refuses_type_errors() {
    let Some(setup) = Setup::start() else {
        return;
    };
    // No TypeScript in the project: a clear error that says how to install it.
    let out = setup.run(&["deploy", "--typecheck"]);
    out.err("TypeScript is not installed");
    assert!(
        out.hint()
            .unwrap()
            .contains("npm install --save-dev typescript"),
        "{out:#?}"
    );
    assert_eq!(setup.deployments(), 0);

    if !setup.project.install_typescript() {
        return;
    }
    // No tsconfig.json: tsc would print its help and exit 0; that is no check.
    setup.project.remove("tsconfig.json");
    setup
        .run(&["deploy", "--typecheck"])
        .err("no tsconfig.json");
    setup.project.write("tsconfig.json", &tsconfig());

    // A type error: tsc's output, then the error; nothing deployed.
    setup.project.write(
        "server/functions.ts",
        &hello_ts("hello").replace("args.name", "args.name.nope()"),
    );
    let out = setup.run(&["deploy", "--typecheck"]);
    assert_eq!(out.status.code(), Some(1), "{out:#?}");
    assert!(
        out.stderr.contains("server/functions.ts(") && out.stderr.contains("error TS"),
        "{out:#?}"
    );
    let last = out.stderr.lines().rev().nth(1).unwrap();
    assert!(
        last.starts_with("error: TypeScript found 1 error; nothing was deployed"),
        "{out:#?}"
    );
    assert_eq!(setup.deployments(), 0);

    setup
        .project
        .write("server/functions.ts", &hello_ts("hello"));
    let out = setup.run(&["deploy", "--typecheck"]);
    assert!(
        out.ok()
            .starts_with("Deployed dev-loop/staging version 1: functions:hello"),
        "{out:#?}"
    );
}

/// A grant that is not a secret name is a deploy error naming the action and the name
/// and saying what names look like; nothing is deployed.
#[test]
fn deploy_refuses_grants_that_are_not_secret_names() {
    let Some(setup) = Setup::start() else {
        return;
    };
    let long = "A".repeat(257);
    for (grant, says) in [
        ("stripe-key", "[A-Za-z_][A-Za-z0-9_]*"),
        ("LUMIO_TOKEN", "reserved"),
        ("9LIVES", "[A-Za-z_][A-Za-z0-9_]*"),
        (long.as_str(), "256"),
    ] {
        setup.project.write(
            "server/functions.ts",
            &hello_ts("hello").replace("\"GREETING_KEY\"]", &format!("\"{grant}\"]")),
        );
        let out = setup.run(&["deploy"]);
        let clipped: String = grant.chars().take(40).collect();
        out.err("functions:hello");
        let error = out.stderr.lines().next().unwrap();
        assert!(
            error.contains(&clipped) && error.contains(says),
            "{grant}: {out:#?}"
        );
        assert!(out.hint().unwrap().contains("unchanged"), "{out:#?}");
    }
    assert_eq!(setup.deployments(), 0);
    // Through the API the same: 400 with the deploy_error code.
    let files = serde_json::json!({"files": {"server/functions.ts": hello_ts("x").replace("\"GREETING_KEY\"]", "\"bad name\"]")}});
    let answer = reqwest::blocking::Client::new()
        .post(format!(
            "{}/api/v1/extensions/{EXT}/environments/staging/deployments",
            setup.server.url
        ))
        .bearer_auth(&setup.server.admin_token)
        .json(&files)
        .send()
        .unwrap();
    let status = answer.status().as_u16();
    let body: Value = answer.json().unwrap();
    assert!((400..500).contains(&status), "{status}: {body}");
    assert_eq!(body["error"]["code"], "deploy_error", "{body}");
    assert_eq!(setup.deployments(), 0);
}
