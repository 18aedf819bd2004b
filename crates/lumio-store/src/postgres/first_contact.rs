//! The first connection at start, made alone before the pool: the pool retries until its
//! timeout and then says only "pool timed out", losing why (refused, no such database,
//! wrong password). One connection gives the cause, said once with what to do.

use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};

use crate::StoreError;

/// Connects once within `wait`; an error names the server and the cause, and ends with
/// a `hint:` line.
pub(super) async fn check(options: &PgConnectOptions, wait: Duration) -> Result<(), StoreError> {
    let server = format!("{}:{}", options.get_host(), options.get_port());
    match tokio::time::timeout(wait, options.connect()).await {
        Ok(Ok(connection)) => {
            // Closing politely is a courtesy; a failure here changes nothing.
            let _ = connection.close().await;
            Ok(())
        }
        Ok(Err(err)) => Err(StoreError::Unreachable(explain(&err, &server, options))),
        Err(_) => Err(StoreError::Unreachable(format!(
            "PostgreSQL at {server} did not answer within {} s\n\
             hint: check that the host and port in --database-url (LUMIO_DATABASE_URL) are \
             right and that no firewall drops the connection; --db-timeout waits longer",
            wait.as_secs()
        ))),
    }
}

/// The cause in words and the next step. Never the URL's password: only the server, the
/// user and the database name, which the operator typed.
fn explain(err: &sqlx::Error, server: &str, options: &PgConnectOptions) -> String {
    let user = options.get_username();
    let database = options.get_database().unwrap_or(user);
    if let sqlx::Error::Database(db) = err {
        match db.code().as_deref() {
            // invalid_catalog_name
            Some("3D000") => {
                return format!(
                    "PostgreSQL at {server} has no database {database:?}\n\
                     hint: create it (`createdb -h {host} -p {port} -U {user} {database}`) \
                     or name an existing one in --database-url (LUMIO_DATABASE_URL)",
                    host = options.get_host(),
                    port = options.get_port(),
                )
            }
            // invalid_password, invalid_authorization_specification
            Some("28P01" | "28000") => {
                return format!(
                    "PostgreSQL at {server} refused user {user:?}: {}\n\
                     hint: check the user and password in --database-url \
                     (LUMIO_DATABASE_URL) and the server's pg_hba.conf",
                    db.message()
                )
            }
            _ => {}
        }
    }
    let cause = match err {
        sqlx::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            "connection refused: nothing listens there".to_owned()
        }
        sqlx::Error::Io(io) => io.to_string(),
        sqlx::Error::Database(db) => db.message().to_owned(),
        other => other.to_string(),
    };
    format!(
        "cannot connect to PostgreSQL at {server}: {cause}\n\
         hint: start PostgreSQL, or fix the host and port in --database-url \
         (LUMIO_DATABASE_URL), then start again"
    )
}
