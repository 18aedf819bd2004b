//! Helpers for test suites (cargo feature `testing`): a fresh PostgreSQL database per
//! test, and SQLite URLs in a temporary directory.
//!
//! Test databases are named `lumio_test_<unix seconds>_<random hex>` and are not dropped
//! when a test ends (its store may still hold connections). Dropping one later is slow
//! (about a second: PostgreSQL checkpoints), so they are recycled instead: a database
//! older than ten minutes that nobody is connected to (a live `PgStore` always holds its
//! LISTEN connection) is claimed by renaming it, then emptied. The number of test
//! databases thus stays near the peak number of concurrent tests instead of growing by
//! ~10 MB per test. Leftovers older than a day are dropped in the background.

use std::hash::{BuildHasher, Hasher};
use std::path::Path;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, Executor, PgConnection};

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const PREFIX: &str = "lumio_test_";
/// Unused this long, a test database may be recycled by another test.
const RECYCLE_AFTER: Duration = Duration::from_secs(10 * 60);
/// Unused this long, a test database is dropped.
const DROP_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// Where a test cannot run on this machine because `why` (a program or service is
/// missing): panics when `LUMIO_REQUIRE=1` (CI sets it) or the dependency's own `switch`
/// is `1` (`LUMIO_REQUIRE_POSTGRES`, `LUMIO_REQUIRE_BROWSER`), so CI never passes a test
/// that did not run; otherwise prints a loud warning, and the caller skips.
pub fn skip_unless_required(why: &str, switch: Option<&str>) {
    let set = |name: &str| std::env::var(name).as_deref() == Ok("1");
    if set("LUMIO_REQUIRE") || switch.is_some_and(set) {
        let by = switch.filter(|s| set(s)).unwrap_or("LUMIO_REQUIRE");
        panic!("{why}, and {by}=1 requires it (.ci/run installs what the tests need)");
    }
    let set_to_fail = switch.unwrap_or("LUMIO_REQUIRE");
    eprintln!(
        "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
         SKIPPING: {why}; set {set_to_fail}=1 (or LUMIO_REQUIRE=1) to fail instead\n\
         !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
    );
}

/// Creates an empty database on the server `LUMIO_TEST_POSTGRES_URL` names (default
/// `postgres://postgres@127.0.0.1:5432/postgres`) and returns its URL.
///
/// If PostgreSQL cannot be reached, prints a loud warning and returns `None` so the caller
/// can skip; with `LUMIO_REQUIRE_POSTGRES=1` or `LUMIO_REQUIRE=1` it panics instead.
pub async fn fresh_postgres_url() -> Option<String> {
    let base = std::env::var("LUMIO_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_URL.into());
    let mut admin = match admin_connection(&base).await {
        Ok(conn) => conn,
        Err(err) => {
            let place = describe(&base);
            skip_unless_required(
                &format!("PostgreSQL is not reachable at {place} ({err}): start it or set LUMIO_TEST_POSTGRES_URL"),
                Some("LUMIO_REQUIRE_POSTGRES"),
            );
            return None;
        }
    };
    static SWEPT: AtomicBool = AtomicBool::new(false);
    if !SWEPT.swap(true, Ordering::Relaxed) {
        sweep_in_background(base.clone());
    }
    let name = format!("{PREFIX}{}_{:016x}", unix_seconds(), random());
    let url = with_database(&base, &name);
    if claim_abandoned(&mut admin, &name).await {
        empty(&url)
            .await
            .unwrap_or_else(|err| panic!("could not empty recycled test database {name}: {err}"));
    } else {
        admin
            .execute(&*format!("CREATE DATABASE \"{name}\""))
            .await
            .unwrap_or_else(|err| panic!("could not create test database {name}: {err}"));
    }
    let _ = admin.close().await;
    Some(url)
}

/// The two stores every suite runs its scenarios on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file in a temporary directory.
    Sqlite,
    /// A fresh PostgreSQL database ([`fresh_postgres_url`]); scenarios skip loudly when
    /// PostgreSQL is unreachable, unless `LUMIO_REQUIRE_POSTGRES=1` or `LUMIO_REQUIRE=1`.
    Postgres,
}

/// Runs each scenario once per backend, as `sqlite::name` and `postgres::name`: the one
/// both-backends helper of every suite (re-exported by `lumio-test-support`).
///
/// `on_each_backend!(a, b);` calls `a(Backend)`, a plain `fn` (run on the test's thread,
/// for suites that drive processes) or an `async fn` (run on a two-worker tokio runtime).
/// `on_each_backend!(fixture = path::to::make; a, b);` first awaits `make(Backend)`, an
/// `Option` (`None`: the backend is unavailable, and the skip was announced), and calls
/// `async fn a(&Fixture)` with it.
#[macro_export]
macro_rules! on_each_backend {
    (fixture = $fixture:path; $($name:ident),* $(,)?) => {
        $crate::on_each_backend!(@module sqlite Sqlite fixture $fixture; $($name),*);
        $crate::on_each_backend!(@module postgres Postgres fixture $fixture; $($name),*);
    };
    (@module $module:ident $backend:ident fixture $fixture:path; $($name:ident),*) => {
        mod $module {$(
            #[test]
            fn $name() {
                $crate::testing::block_on(async {
                    if let Some(fixture) = $fixture($crate::testing::Backend::$backend).await {
                        super::$name(&fixture).await;
                    }
                })
            }
        )*}
    };
    (@module $module:ident $backend:ident; $($name:ident),*) => {
        mod $module {$(
            #[test]
            fn $name() {
                $crate::testing::run_scenario(super::$name, $crate::testing::Backend::$backend)
            }
        )*}
    };
    ($($name:ident),* $(,)?) => {
        $crate::on_each_backend!(@module sqlite Sqlite; $($name),*);
        $crate::on_each_backend!(@module postgres Postgres; $($name),*);
    };
}

/// A scenario [`on_each_backend!`] can run: `fn(Backend)` or `async fn(Backend)` (the
/// `Kind` parameter only tells the two apart).
pub trait Scenario<Kind> {
    fn run(self, backend: Backend);
}

/// [`Scenario`]'s kind for a plain `fn(Backend)`.
pub struct Blocking;

/// [`Scenario`]'s kind for an `async fn(Backend)` returning `F`.
pub struct Async<F>(std::marker::PhantomData<F>);

impl<S: FnOnce(Backend)> Scenario<Blocking> for S {
    fn run(self, backend: Backend) {
        self(backend)
    }
}

impl<S, F> Scenario<Async<F>> for S
where
    S: FnOnce(Backend) -> F,
    F: std::future::Future<Output = ()>,
{
    fn run(self, backend: Backend) {
        block_on(self(backend))
    }
}

/// Runs `scenario` on `backend` (what [`on_each_backend!`] expands to).
pub fn run_scenario<Kind>(scenario: impl Scenario<Kind>, backend: Backend) {
    scenario.run(backend)
}

/// Runs `future` to completion on a new two-worker tokio runtime, as
/// `#[tokio::test(flavor = "multi_thread", worker_threads = 2)]` would.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime for the test")
        .block_on(future)
}

/// The URL of a SQLite file inside `dir` (created on connect).
pub fn sqlite_url(dir: &Path) -> String {
    let path = dir.join("lumio.db").display().to_string();
    // sqlx percent-decodes the path and treats `?` as the start of options.
    let path = path
        .replace('%', "%25")
        .replace('?', "%3F")
        .replace('#', "%23");
    format!("sqlite://{path}")
}

async fn admin_connection(url: &str) -> Result<PgConnection, sqlx::Error> {
    let options = PgConnectOptions::from_str(url)?;
    tokio::time::timeout(Duration::from_secs(5), options.connect())
        .await
        .map_err(|_| sqlx::Error::PoolTimedOut)?
}

/// Host and port only: the URL may hold a password.
fn describe(url: &str) -> String {
    match PgConnectOptions::from_str(url) {
        Ok(options) => format!("{}:{}", options.get_host(), options.get_port()),
        Err(_) => "LUMIO_TEST_POSTGRES_URL (unparsable)".into(),
    }
}

/// Test databases nobody is connected to, unused for at least `age`, oldest first.
async fn abandoned(admin: &mut PgConnection, age: Duration, limit: i64) -> Vec<String> {
    let cutoff = unix_seconds().saturating_sub(age.as_secs());
    sqlx::query_scalar(
        "SELECT d.datname FROM pg_database d \
         WHERE d.datname ~ '^lumio_test_[0-9]+_[0-9a-f]+$' \
           AND CASE WHEN d.datname ~ '^lumio_test_[0-9]+_' \
                    THEN split_part(d.datname, '_', 3)::bigint END < $1 \
           AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.datid = d.oid) \
         ORDER BY d.datname LIMIT $2",
    )
    .bind(i64::try_from(cutoff).unwrap_or(i64::MAX))
    .bind(limit)
    .fetch_all(&mut *admin)
    .await
    .unwrap_or_default()
}

/// Renames an abandoned test database to `name`. The rename fails if anyone is connected
/// or another process claimed it first, so a database is never handed out twice.
async fn claim_abandoned(admin: &mut PgConnection, name: &str) -> bool {
    let candidates = abandoned(admin, RECYCLE_AFTER, 8).await;
    // Start at a random candidate so concurrent claimers rarely collide.
    let start = usize::try_from(random()).unwrap_or(0) % candidates.len().max(1);
    for old in candidates.iter().cycle().skip(start).take(candidates.len()) {
        let rename = format!("ALTER DATABASE \"{old}\" RENAME TO \"{name}\"");
        if admin.execute(&*rename).await.is_ok() {
            return true;
        }
    }
    false
}

/// Leaves a claimed database as a new one: an empty `public` schema.
async fn empty(url: &str) -> Result<(), sqlx::Error> {
    let mut conn = PgConnectOptions::from_str(url)?.connect().await?;
    conn.execute("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public")
        .await?;
    conn.close().await
}

/// Drops day-old leftovers without delaying the test (each DROP takes about a second).
/// The thread dies with the test process, which is fine for a best effort.
fn sweep_in_background(base: String) {
    std::thread::spawn(move || {
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        runtime.block_on(async {
            let Ok(mut admin) = admin_connection(&base).await else {
                return;
            };
            for name in abandoned(&mut admin, DROP_AFTER, 100).await {
                // No FORCE: if a test connected meanwhile, the drop fails and it stays.
                let _ = admin
                    .execute(&*format!("DROP DATABASE IF EXISTS \"{name}\""))
                    .await;
            }
        });
    });
}

/// `url` with its database path replaced by `database`, query options kept.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority = base.find("://").map_or(0, |i| i + 3);
    let path = base[authority..]
        .find('/')
        .map_or(base.len(), |i| authority + i);
    let mut out = format!("{}/{database}", &base[..path]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

fn random() -> u64 {
    // RandomState is seeded from the OS; the counter separates calls in one process.
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(NEXT.fetch_add(1, Ordering::Relaxed));
    hasher.finish()
}

/// Makes every insert into the audit table of the store at `url` fail (or, with `refuse`
/// false, work again), as a broken audit store would: a trigger on SQLite; on PostgreSQL a
/// constraint no row meets, `NOT VALID` so the rows already there are not checked.
///
/// # Panics
/// When the database cannot be reached or changed.
pub async fn refuse_audit_inserts(url: &str, refuse: bool) {
    let sql = match (url.starts_with("postgres"), refuse) {
        (true, true) => {
            "ALTER TABLE ext_audit_log ADD CONSTRAINT test_refuse CHECK (false) NOT VALID"
        }
        (true, false) => "ALTER TABLE ext_audit_log DROP CONSTRAINT test_refuse",
        (false, true) => {
            "CREATE TRIGGER test_refuse BEFORE INSERT ON ext_audit_log \
             BEGIN SELECT RAISE(ABORT, 'audit inserts refused by the test'); END"
        }
        (false, false) => "DROP TRIGGER test_refuse",
    };
    let done = if url.starts_with("postgres") {
        match PgConnection::connect(url).await {
            Ok(mut conn) => conn.execute(sql).await.map(drop),
            Err(err) => Err(err),
        }
    } else {
        match sqlx::SqliteConnection::connect(url).await {
            Ok(mut conn) => conn.execute(sql).await.map(drop),
            Err(err) => Err(err),
        }
    };
    done.unwrap_or_else(|err| panic!("{sql}: {err}"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_is_replaced_in_urls() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("postgres://u:p@h/db?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h:1", "x"), "postgres://h:1/x");
    }

    #[test]
    fn sqlite_urls_escape_special_characters() {
        assert_eq!(
            sqlite_url(Path::new("/tmp/a?b")),
            "sqlite:///tmp/a%3Fb/lumio.db"
        );
    }
}
