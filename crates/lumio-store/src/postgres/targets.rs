//! Where the primary may be: libpq's multi-host URLs
//! (`postgres://h1:5432,h2:5433/lumio?target_session_attrs=read-write`), and which of
//! those hosts is the primary now.
//!
//! sqlx takes one host per set of options, so the URL is split into one set per host.
//! A node connects to the first host that answers and, with `read-write` (or `primary`),
//! is not in recovery; after a failover the watcher (`postgres/failover.rs`) asks again.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};

use crate::StoreError;

pub(super) struct Targets {
    /// One per host, in the URL's order.
    hosts: Vec<PgConnectOptions>,
    /// Only a host that accepts writes will do (`target_session_attrs=read-write`).
    read_write: bool,
}

impl Targets {
    pub(super) fn parse(url: &str) -> Result<Self, StoreError> {
        let invalid = |why: &str| StoreError::Unreachable(format!("--database-url: {why}"));
        let (scheme, rest) = url.split_once("://").ok_or_else(|| invalid("not a URL"))?;
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(authority_end);
        let (user, hosts) = match authority.rsplit_once('@') {
            Some((user, hosts)) => (format!("{user}@"), hosts),
            None => (String::new(), authority),
        };
        let (tail, read_write) = take_session_attrs(tail).map_err(|why| invalid(&why))?;
        let hosts = hosts
            .split(',')
            .map(|host| {
                if host.is_empty() {
                    return Err(invalid("an empty host in the host list"));
                }
                Ok(PgConnectOptions::from_str(&format!(
                    "{scheme}://{user}{host}{tail}"
                ))?)
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(Self { hosts, read_write })
    }

    /// More than one host, or a host that must be writable: worth watching for a failover.
    pub(super) fn may_fail_over(&self) -> bool {
        self.hosts.len() > 1 || self.read_write
    }

    /// The first host's options (what a single-host URL names).
    pub(super) fn first(&self) -> &PgConnectOptions {
        &self.hosts[0]
    }

    /// The first host, in order, that answers within `wait` and, if writes are wanted, is
    /// not a standby. The error says what each host answered.
    pub(super) async fn find_primary(
        &self,
        wait: Duration,
    ) -> Result<PgConnectOptions, StoreError> {
        let mut answers = Vec::new();
        for host in &self.hosts {
            match tokio::time::timeout(wait, self.check(host)).await {
                Ok(Ok(())) => return Ok(host.clone()),
                Ok(Err(why)) => answers.push(format!("{}: {why}", name(host))),
                Err(_) => answers.push(format!("{}: no answer within {wait:?}", name(host))),
            }
        }
        Err(StoreError::Unreachable(format!(
            "no PostgreSQL host {} ({})",
            if self.read_write {
                "accepts writes"
            } else {
                "answers"
            },
            answers.join("; ")
        )))
    }

    async fn check(&self, host: &PgConnectOptions) -> Result<(), String> {
        let mut conn = host.connect().await.map_err(|e| e.to_string())?;
        let standby = if self.read_write {
            standby(&mut conn).await.map_err(|e| e.to_string())?
        } else {
            false
        };
        let _ = conn.close().await;
        if standby {
            Err("a standby (read-only)".to_owned())
        } else {
            Ok(())
        }
    }
}

/// Whether the server on `conn` is in recovery (a standby).
pub(super) async fn standby(conn: &mut sqlx::PgConnection) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT pg_is_in_recovery()")
        .fetch_one(conn)
        .await
}

/// `host:port` for messages (never the user or password).
pub(super) fn name(options: &PgConnectOptions) -> String {
    format!("{}:{}", options.get_host(), options.get_port())
}

/// The URL's path and query without `target_session_attrs`, and whether it asks for a
/// writable host.
fn take_session_attrs(tail: &str) -> Result<(String, bool), String> {
    let Some((path, query)) = tail.split_once('?') else {
        return Ok((tail.to_owned(), false));
    };
    let mut read_write = false;
    let mut kept = Vec::new();
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("target_session_attrs", value)) => {
                read_write = match value {
                    "read-write" | "primary" => true,
                    "any" => false,
                    other => {
                        return Err(format!(
                            "target_session_attrs={other} is not supported: Lumio writes, so use read-write (or any)"
                        ))
                    }
                }
            }
            _ => kept.push(pair),
        }
    }
    let tail = if kept.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", kept.join("&"))
    };
    Ok((tail, read_write))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_multi_host_url_names_each_host_in_order() {
        let targets = Targets::parse(
            "postgres://lumio:pw@db1:5432,db2:5433/lumio?sslmode=disable&target_session_attrs=read-write",
        )
        .unwrap();
        let hosts: Vec<String> = targets.hosts.iter().map(name).collect();
        assert_eq!(hosts, ["db1:5432", "db2:5433"]);
        assert!(targets.read_write && targets.may_fail_over());
        for host in &targets.hosts {
            assert_eq!(host.get_username(), "lumio");
            assert_eq!(host.get_database(), Some("lumio"));
        }
    }

    #[test]
    fn a_single_host_url_is_as_before() {
        let targets = Targets::parse("postgres://postgres@127.0.0.1:5432/test").unwrap();
        assert_eq!(name(targets.first()), "127.0.0.1:5432");
        assert!(!targets.may_fail_over());
        let any = Targets::parse("postgresql://h/db?target_session_attrs=any").unwrap();
        assert!(!any.read_write);
    }

    #[test]
    fn what_cannot_work_is_refused_with_the_reason() {
        let err = Targets::parse("postgres://h1,h2/db?target_session_attrs=standby")
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("read-write"), "{err}");
        let err = Targets::parse("postgres://h1,,h2/db")
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("empty host"), "{err}");
    }
}
