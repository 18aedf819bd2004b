//! Issue 27: `lumio logs --follow` with the real binary. On PostgreSQL two servers share
//! the database and the follower asks server B while the action runs through server A;
//! on SQLite one server does both. The planted secret value appears neither in the
//! follower's output (text or `--json`) nor in the stored rows; Ctrl-C ends the follower.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::support::dumps::{pg_dump, sqlite_bytes};
use crate::support::lumio;
use crate::support::project::Project;
use crate::support::server::{Backend, Launch, Shell, TestServer};
use lumio_store::on_each_backend;
use serde_json::Value;

on_each_backend!(follow_shows_an_action_run_through_another_server);

const ADMIN: &str = "lumio_admin_0123456789abcdef";
const PLANTED: &str = "sk-follow-canary-5d2e8b4a";
const CODE: &str = r#"import { action } from "@zaflun/lumio-sdk/server";
export const useKey = action({
  args: {},
  handler: async (ctx) => {
    const key = ctx.secrets.get("LOG_KEY");
    console.log(`calling with ${key}`);
    return "done";
  },
});
"#;

/// A `lumio logs --follow` running in the background, its stdout lines on a channel.
struct Follower {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Follower {
    fn start(shell: &Shell, project: &Project, extra: &[&str]) -> Self {
        let mut cmd = lumio(shell.home.path(), project.path());
        cmd.env("LUMIO_URL", &shell.url)
            .env("LUMIO_TOKEN", shell.token.as_deref().unwrap())
            .args(["logs", "--follow"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = cmd.spawn().expect("start lumio logs --follow");
        let stdout = child.stdout.take().unwrap();
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    return;
                }
            }
        });
        Self {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits up to 20 s for a line containing `needle`; all lines so far are kept.
    fn wait_for(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => break,
            }
        }
        panic!("no line with {needle:?} within 20 s: {:#?}", self.seen);
    }

    /// Ctrl-C, as a terminal sends it; the follower must end promptly.
    fn interrupt(mut self) -> Vec<String> {
        let sent = std::process::Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(sent.success());
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                use std::os::unix::process::ExitStatusExt;
                assert!(status.success() || status.signal() == Some(2), "{status:?}");
                break;
            }
            assert!(Instant::now() < deadline, "Ctrl-C did not end the follower");
            std::thread::sleep(Duration::from_millis(50));
        }
        self.seen.extend(self.lines.try_iter());
        self.seen
    }
}

fn follow_shows_an_action_run_through_another_server(db: Backend) {
    let database_url = match db {
        Backend::Sqlite => None,
        Backend::Postgres => {
            let fresh = tokio::runtime::Runtime::new()
                .unwrap()
                .block_on(lumio_store::testing::fresh_postgres_url());
            let Some(url) = fresh else { return };
            Some(url)
        }
    };
    let a = TestServer::launch(Launch {
        database_url: database_url.clone(),
        admin_token: Some(ADMIN),
        ..Launch::default()
    });
    let key_file = a.data_dir().join("master.key");
    let b = database_url.as_ref().map(|url| {
        TestServer::launch(Launch {
            database_url: Some(url.clone()),
            admin_token: Some(ADMIN),
            env: &[("LUMIO_MASTER_KEY_FILE", key_file.to_str().unwrap())],
            ..Launch::default()
        })
    });
    let (on_a, on_b) = (a.admin(), b.as_ref().unwrap_or(&a).admin());

    on_a.ok(&["extensions", "create", "followed"]);
    let project = Project::empty();
    project.write("lumio.json", r#"{"extension": "followed"}"#);
    project.write("server/keys.ts", CODE);
    on_a.run(&["deploy", project.arg()], None).ok();
    on_a.run_in(project.path(), &["env", "set", "LOG_KEY", PLANTED], None)
        .ok();

    let mut text = Follower::start(&on_b, &project, &[]);
    let mut json = Follower::start(&on_b, &project, &["--json", "--action", "keys:useKey"]);
    // Both have their cursor once they answered the first request; give them a moment.
    std::thread::sleep(Duration::from_millis(1500));
    let ran = on_a.run_in(project.path(), &["run", "keys:useKey"], None);
    assert_eq!(ran.ok(), "\"done\"\n");

    let head = text.wait_for("keys:useKey");
    assert!(head.contains("  ok  "), "{head}");
    assert_eq!(text.wait_for("read LOG_KEY"), "    read LOG_KEY: found");
    let console = text.wait_for("calling with");
    assert_eq!(console, "    [info] calling with [REDACTED:LOG_KEY]");
    let line = json.wait_for("keys:useKey");
    let invocation: Value = serde_json::from_str(&line).expect("one JSON object per line");
    assert_eq!(invocation["reads"][0]["name"], "LOG_KEY", "{invocation:#}");
    assert_eq!(invocation["reads"][0]["outcome"], "found", "{invocation:#}");

    let mut outputs = text.interrupt();
    outputs.extend(json.interrupt());
    let listed = on_b.run_in(project.path(), &["logs", "--json"], None);
    let listed_text = on_b.run_in(project.path(), &["logs"], None);
    assert!(
        listed_text.ok().contains("read LOG_KEY: found"),
        "{listed_text:#?}"
    );
    listed.never_shows(PLANTED);
    listed_text.never_shows(PLANTED);
    for line in &outputs {
        assert!(!line.contains(PLANTED), "{line}");
    }

    // The stored rows: the table is there and holds the masked line, never the value.
    let stored = match &database_url {
        Some(url) => String::from_utf8_lossy(&pg_dump(url)).into_owned(),
        None => String::from_utf8_lossy(&sqlite_bytes(&a.data_dir())).into_owned(),
    };
    assert!(stored.contains("calling with [REDACTED:LOG_KEY]"));
    assert!(
        !stored.contains(PLANTED),
        "the database holds the planted value"
    );
}
