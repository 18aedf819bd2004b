//! Helpers for test suites (cargo feature `testing`): a fresh PostgreSQL database per
//! test, and SQLite URLs in a temporary directory.
//!
//! Test databases are named `lumio_test_<unix seconds>_<random hex>` and are not dropped
//! when a test ends (its store may still hold connections); the first call in each
//! process drops those older than a day instead.

use std::hash::{BuildHasher, Hasher};
use std::path::Path;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, Executor, PgConnection};

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const PREFIX: &str = "lumio_test_";
const STALE_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// Creates an empty database on the server `LUMIO_TEST_POSTGRES_URL` names (default
/// `postgres://postgres@127.0.0.1:5432/postgres`) and returns its URL.
///
/// If PostgreSQL cannot be reached, prints a loud warning and returns `None` so the caller
/// can skip; with `LUMIO_REQUIRE_POSTGRES=1` it panics instead.
pub async fn fresh_postgres_url() -> Option<String> {
    let base = std::env::var("LUMIO_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_URL.into());
    let mut admin = match admin_connection(&base).await {
        Ok(conn) => conn,
        Err(err) => {
            let place = describe(&base);
            if std::env::var("LUMIO_REQUIRE_POSTGRES").as_deref() == Ok("1") {
                panic!("PostgreSQL not reachable at {place} ({err}) and LUMIO_REQUIRE_POSTGRES=1; start it or set LUMIO_TEST_POSTGRES_URL");
            }
            eprintln!(
                "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
                 SKIPPING: PostgreSQL not reachable at {place} ({err}); \
                 set LUMIO_REQUIRE_POSTGRES=1 to fail instead\n\
                 !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
            );
            return None;
        }
    };
    static SWEPT: AtomicBool = AtomicBool::new(false);
    if !SWEPT.swap(true, Ordering::Relaxed) {
        drop_stale_databases(&mut admin).await;
    }
    let name = format!("{PREFIX}{}_{:016x}", unix_seconds(), random());
    admin
        .execute(&*format!("CREATE DATABASE \"{name}\""))
        .await
        .unwrap_or_else(|err| panic!("could not create test database {name}: {err}"));
    let _ = admin.close().await;
    Some(with_database(&base, &name))
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

async fn drop_stale_databases(admin: &mut PgConnection) {
    let names: Vec<String> = match sqlx::query_scalar(
        "SELECT datname FROM pg_database WHERE datname LIKE 'lumio\\_test\\_%'",
    )
    .fetch_all(&mut *admin)
    .await
    {
        Ok(names) => names,
        Err(_) => return,
    };
    let cutoff = unix_seconds().saturating_sub(STALE_AFTER.as_secs());
    for name in names {
        let created = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split('_').next())
            .and_then(|secs| secs.parse::<u64>().ok());
        if created.is_some_and(|created| created < cutoff) {
            // Best effort: another run may be dropping it too.
            let _ = admin
                .execute(&*format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .await;
        }
    }
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
