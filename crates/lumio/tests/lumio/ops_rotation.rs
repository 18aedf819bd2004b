//! Issue 22, item 3: online master-key rotation through the real binary, on SQLite and
//! PostgreSQL. `lumio admin rotate-master-key` rewraps every stored version under a new
//! key while sets and reads go on (none fails), a second server on the same PostgreSQL
//! follows (its sets are sealed under the new key, it reads the rewrapped versions), a
//! server killed mid-rewrap resumes at its next start, and under a KMS that is down the
//! rotation refuses with a clear error and changes nothing.

use lumio_store::on_each_backend;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::bao::{Bao, ROOT_TOKEN};
use crate::support::project::Project;
use crate::support::server::{Backend, Launch, Shell, TestServer};
use tempfile::TempDir;

on_each_backend!(
    rotation_keeps_sets_and_reads_working,
    an_interrupted_rotation_resumes_at_the_next_start,
    rotation_under_a_kms_that_is_down_refuses,
);

const EXT: &str = "rotate-ext";
const ADMIN: &str = "lumio_admin_rotation_0123456789";

const CHECK_TS: &str = r#"import { action, v } from "@zaflun/lumio-sdk/server";
export const holds = action({
  args: { name: v.string(), expected: v.string() },
  handler: async (ctx, args) => ctx.secrets.get(args.name) === args.expected,
});
"#;

/// A data directory and database kept across restarts and shared by servers.
struct Place {
    data: TempDir,
    database_url: Option<String>,
}

impl Place {
    fn new(db: Backend) -> Option<Self> {
        let database_url = match db {
            Backend::Sqlite => None,
            Backend::Postgres => Some(
                tokio::runtime::Runtime::new()
                    .unwrap()
                    .block_on(lumio_store::testing::fresh_postgres_url())?,
            ),
        };
        Some(Self {
            data: TempDir::new().unwrap(),
            database_url,
        })
    }

    fn start(&self, env: &[(&str, &str)]) -> TestServer {
        TestServer::launch(Launch {
            database_url: self.database_url.clone(),
            data_dir: Some(self.data.path()),
            admin_token: Some(ADMIN),
            env,
            ..Launch::default()
        })
    }

    /// The `kek_id` of every stored version (SQLite file or PostgreSQL database).
    fn kek_ids(&self) -> Vec<String> {
        const QUERY: &str = "SELECT kek_id FROM ext_secrets";
        tokio::runtime::Runtime::new().unwrap().block_on(async {
            let rows: Vec<(String,)> = match &self.database_url {
                Some(url) => {
                    let pool = sqlx::PgPool::connect(url).await.unwrap();
                    sqlx::query_as(QUERY).fetch_all(&pool).await.unwrap()
                }
                None => {
                    let file = self.data.path().join("lumio.db");
                    let options = sqlx::sqlite::SqliteConnectOptions::new()
                        .filename(file)
                        .read_only(true);
                    let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
                    sqlx::query_as(QUERY).fetch_all(&pool).await.unwrap()
                }
            };
            rows.into_iter().map(|(id,)| id).collect()
        })
    }
}

fn deploy_check(admin: &Shell) -> Project {
    admin.ok(&["extensions", "create", EXT]);
    let project = Project::empty();
    project.write("lumio.json", &format!(r#"{{"extension": "{EXT}"}}"#));
    project.write("server/check.ts", CHECK_TS);
    admin.run(&["deploy", project.arg()], None).ok();
    project
}

fn holds(admin: &Shell, project: &Project, name: &str, expected: &str) -> bool {
    let args = serde_json::json!({ "name": name, "expected": expected }).to_string();
    let out = admin.run_in(project.path(), &["run", "check:holds", &args], None);
    out.status.success() && out.stdout.trim() == "true"
}

/// `count` secrets `S0..` (value `v-<i>-<round>`) in one import per 1,000.
fn import(admin: &Shell, project: &Project, count: usize, round: usize) {
    for chunk in (0..count).collect::<Vec<_>>().chunks(1000) {
        let env: String = chunk
            .iter()
            .map(|i| format!("S{i}=sk-rotation-canary-{i}-{round}\n"))
            .collect();
        let file = project.path().join(".env");
        std::fs::write(&file, env).unwrap();
        admin
            .run_in(
                project.path(),
                &["env", "import", file.to_str().unwrap()],
                None,
            )
            .ok();
    }
}

fn status(admin: &Shell) -> serde_json::Value {
    admin.json(&["admin", "rotate-master-key", "--status"])
}

fn wait_rotated(admin: &Shell) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let now = status(admin);
        if now["rotating"] == false {
            return now;
        }
        assert!(Instant::now() < deadline, "rotation never finished: {now}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn rotation_keeps_sets_and_reads_working(db: Backend) {
    let Some(place) = Place::new(db) else { return };
    let server = place.start(&[]);
    let admin = server.admin();
    let project = deploy_check(&admin);
    import(&admin, &project, 300, 0);
    let before: BTreeSet<String> = place.kek_ids().into_iter().collect();
    assert_eq!(before.len(), 1);

    // Sets and reads in a loop while the rotation runs; each must succeed.
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicUsize::new(0));
    let worker = {
        let (stop, done) = (stop.clone(), done.clone());
        let admin = server.admin();
        let dir = project.path().to_path_buf();
        std::thread::spawn(move || {
            let mut round = 1;
            while !stop.load(Ordering::Relaxed) {
                let value = format!("sk-rotation-canary-live-{round}");
                admin
                    .run_in(&dir, &["env", "set", "LIVE", &value], None)
                    .ok();
                let args = serde_json::json!({ "name": "LIVE", "expected": value }).to_string();
                let out = admin.run_in(&dir, &["run", "check:holds", &args], None);
                assert_eq!(
                    out.ok().trim(),
                    "true",
                    "a read during the rotation: {out:#?}"
                );
                let args =
                    serde_json::json!({ "name": "S7", "expected": "sk-rotation-canary-7-0" })
                        .to_string();
                let out = admin.run_in(&dir, &["run", "check:holds", &args], None);
                assert_eq!(
                    out.ok().trim(),
                    "true",
                    "an old version during the rotation: {out:#?}"
                );
                done.fetch_add(1, Ordering::Relaxed);
                round += 1;
            }
        })
    };
    let out = admin.run(&["admin", "rotate-master-key"], None);
    let line = out.ok().to_owned();
    assert!(
        line.starts_with("Rotated: every secret is sealed under master key "),
        "{out:#?}"
    );
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    worker
        .join()
        .expect("no set or read failed during the rotation");
    assert!(done.load(Ordering::Relaxed) > 0);

    let now = status(&admin);
    let current = now["current_key"].as_str().unwrap().to_owned();
    assert!(!before.contains(&current));
    assert!(line.contains(&current), "{line}");
    let after: BTreeSet<String> = place.kek_ids().into_iter().collect();
    assert_eq!(
        after,
        BTreeSet::from([current.clone()]),
        "every version moved"
    );
    assert!(holds(&admin, &project, "S299", "sk-rotation-canary-299-0"));

    // A restart unwraps the keyring with the same key file.
    drop(server);
    let server = place.start(&[]);
    let admin = server.admin();
    assert_eq!(status(&admin)["current_key"], current.as_str());
    assert!(holds(&admin, &project, "S0", "sk-rotation-canary-0-0"));
    let log = server.log();
    assert!(!log.contains("sk-rotation-canary"), "{log}");
    let key_file = std::fs::read_to_string(place.data.path().join("master.key")).unwrap();
    assert!(!log.contains(key_file.trim()), "the log shows the key file");

    // A second rotation retires the first one's key as well: a restart still opens the
    // audit log's root key (resealed with the versions), and the keyed chain verifies.
    admin.run(&["admin", "rotate-master-key"], None).ok();
    drop(server);
    let server = place.start(&[]);
    let admin = server.admin();
    let verified = admin.run_in(project.path(), &["audit", "verify"], None);
    assert!(verified.ok().contains("is intact"), "{verified:#?}");
}

/// Two servers on one PostgreSQL: B seals under the key A rotated to and reads A's
/// rewrapped versions.
#[test]
fn a_second_server_follows_a_rotation() {
    let Some(place) = Place::new(Backend::Postgres) else {
        return;
    };
    let a = place.start(&[]);
    let key_file = place.data.path().join("master.key");
    let key_file = key_file.to_str().unwrap();
    let b_data = TempDir::new().unwrap();
    let b = TestServer::launch(Launch {
        database_url: place.database_url.clone(),
        data_dir: Some(b_data.path()),
        admin_token: Some(ADMIN),
        env: &[("LUMIO_MASTER_KEY_FILE", key_file)],
        ..Launch::default()
    });
    let (on_a, on_b) = (a.admin(), b.admin());
    let project = deploy_check(&on_a);
    import(&on_a, &project, 200, 0);
    assert!(holds(&on_b, &project, "S5", "sk-rotation-canary-5-0"));

    on_a.run(&["admin", "rotate-master-key"], None).ok();
    let current = status(&on_a)["current_key"].as_str().unwrap().to_owned();
    assert_eq!(status(&on_b)["current_key"], current.as_str(), "B follows");
    on_b.run_in(
        project.path(),
        &["env", "set", "FROM_B", "sk-rotation-canary-b"],
        None,
    )
    .ok();
    let ids: BTreeSet<String> = place.kek_ids().into_iter().collect();
    assert_eq!(
        ids,
        BTreeSet::from([current]),
        "B's set is under the new key"
    );
    assert!(holds(&on_b, &project, "S5", "sk-rotation-canary-5-0"));
    assert!(holds(&on_b, &project, "S199", "sk-rotation-canary-199-0"));
    assert!(holds(&on_a, &project, "FROM_B", "sk-rotation-canary-b"));
}

fn an_interrupted_rotation_resumes_at_the_next_start(db: Backend) {
    let Some(place) = Place::new(db) else { return };
    let mut server = place.start(&[]);
    let admin = server.admin();
    let project = deploy_check(&admin);
    // Twelve versions of each of 1,000 names (the most one environment holds).
    for round in 0..12 {
        import(&admin, &project, 1000, round);
    }
    let total = place.kek_ids().len();
    assert_eq!(total, 12_000);
    let started = admin.json(&["admin", "rotate-master-key", "--no-wait"]);
    let current = started["current_key"].as_str().unwrap().to_owned();
    // Killed once the rewrap is under way (it starts 3 s after the new key is named).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let moved = place.kek_ids().iter().filter(|id| **id == current).count();
        if moved > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the rewrap never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    server.kill();
    let moved = place.kek_ids().iter().filter(|id| **id == current).count();
    assert!(
        moved < total,
        "killed before the end ({moved} of {total} moved)"
    );

    let server = place.start(&[]);
    let admin = server.admin();
    let done = wait_rotated(&admin);
    assert_eq!(done["current_key"], current.as_str());
    let ids: BTreeSet<String> = place.kek_ids().into_iter().collect();
    assert_eq!(ids, BTreeSet::from([current]));
    assert!(holds(&admin, &project, "S999", "sk-rotation-canary-999-11"));
}

fn rotation_under_a_kms_that_is_down_refuses(db: Backend) {
    let Some(mut bao) = Bao::start() else { return };
    let Some(place) = Place::new(db) else { return };
    let url = bao.key_url();
    let server = place.start(&[("LUMIO_KMS_TRANSIT", &url), ("LUMIO_KMS_TOKEN", ROOT_TOKEN)]);
    let admin = server.admin();
    let project = deploy_check(&admin);
    import(&admin, &project, 50, 0);
    // With the KMS up, a rotation under it works.
    admin.run(&["admin", "rotate-master-key"], None).ok();
    let current = status(&admin)["current_key"].as_str().unwrap().to_owned();
    assert_eq!(
        place.kek_ids().into_iter().collect::<BTreeSet<_>>(),
        BTreeSet::from([current.clone()])
    );

    bao.kill();
    let out = admin.run(&["admin", "rotate-master-key"], None);
    out.err("KMS");
    assert_eq!(out.status.code(), Some(6), "unavailable: {out:#?}");
    assert_eq!(
        status(&admin)["current_key"],
        current.as_str(),
        "nothing changed"
    );
    assert!(holds(&admin, &project, "S3", "sk-rotation-canary-3-0"));
    let log = server.log();
    assert!(log.contains(&url), "the log names the KMS to check: {log}");
    assert!(!log.contains(ROOT_TOKEN));
}
