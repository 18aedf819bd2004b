//! Following the primary. With a multi-host `--database-url` (or
//! `target_session_attrs=read-write`), a task checks every second that the host in use
//! still answers and still accepts writes; when it does not, it finds the primary among
//! the URL's hosts and moves the node there without a restart: new pooled connections go
//! to it, connections opened before the move are closed instead of reused, and the change
//! feed's listener and notifier connect to it when their old connections fail (the
//! listener's reconnection drops every cache, so nothing read from the old primary is
//! served after the move).

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgPool};
use sqlx::{ConnectOptions, PgConnection};
use tokio::task::JoinHandle;

use super::targets::{name, standby, Targets};

/// How often the host in use is checked.
const WATCH_EVERY: Duration = Duration::from_secs(1);

/// The host this node uses now, and since when.
#[derive(Clone)]
pub(super) struct Primary(Arc<RwLock<Current>>);

struct Current {
    options: PgConnectOptions,
    since: Instant,
}

impl Primary {
    pub(super) fn new(options: PgConnectOptions) -> Self {
        Self(Arc::new(RwLock::new(Current {
            options,
            since: Instant::now(),
        })))
    }

    /// The options to connect to the primary with, as of now.
    pub(super) fn options(&self) -> PgConnectOptions {
        self.read().options.clone()
    }

    /// Whether a connection opened `age` ago was opened after the last move.
    pub(super) fn opened_since_move(&self, age: Duration) -> bool {
        age < self.read().since.elapsed()
    }

    fn move_to(&self, options: PgConnectOptions) {
        let mut current = self.0.write().unwrap_or_else(|e| e.into_inner());
        *current = Current {
            options,
            since: Instant::now(),
        };
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Current> {
        // Nothing panics while it is held; a poisoned lock still holds good options.
        self.0.read().unwrap_or_else(|e| e.into_inner())
    }
}

/// Checks the host in use every [`WATCH_EVERY`] and moves `pool` (and `primary`) to the
/// primary when it changed. `wait` bounds each check and each host's probe.
pub(super) fn watch(
    targets: Targets,
    primary: Primary,
    pool: PgPool,
    wait: Duration,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut conn: Option<PgConnection> = None;
        loop {
            tokio::time::sleep(WATCH_EVERY).await;
            let check = tokio::time::timeout(wait, still_primary(&primary, &mut conn)).await;
            if matches!(check, Ok(Ok(true))) {
                continue;
            }
            conn = None;
            let found = match targets.find_primary(wait).await {
                Ok(found) => found,
                Err(err) => {
                    tracing::warn!(%err, "the PostgreSQL primary cannot be found yet; retrying");
                    continue;
                }
            };
            let (from, to) = (name(&primary.options()), name(&found));
            if from != to {
                tracing::warn!(%from, %to, "PostgreSQL primary moved; following it");
                pool.set_connect_options(found.clone().application_name("lumio"));
                primary.move_to(found);
            }
        }
    })
}

/// Whether the host in use answers and accepts writes, on a connection kept for the check.
async fn still_primary(
    primary: &Primary,
    conn: &mut Option<PgConnection>,
) -> Result<bool, sqlx::Error> {
    let conn = match conn {
        Some(conn) => conn,
        None => conn.insert(
            primary
                .options()
                .application_name("lumio-watcher")
                .connect()
                .await?,
        ),
    };
    Ok(!standby(conn).await?)
}
