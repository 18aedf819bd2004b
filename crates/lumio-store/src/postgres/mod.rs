//! The PostgreSQL store: production. Other processes sharing the database learn of
//! changes through LISTEN/NOTIFY on the `lumio_changes` channel.

#[macro_use]
mod audit;
mod barrier;
mod chain;
mod copy_binary;
mod failover;
mod first_contact;
mod liveness;
mod notify;
mod payload;
mod retention;
mod targets;
mod write;

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::Postgres;
use tokio::task::JoinHandle;

use crate::feed::Feed;
use crate::store_impl::{impl_store, Backend};
use crate::{Change, PoolUsage, StoreError};

/// Enough connections for group commit to batch many concurrent writers into one WAL
/// flush, few enough to leave room on a default `max_connections = 100` server.
const POOL_SIZE: u32 = 16;
/// Longest wait for PostgreSQL to take a change notification before a write returns.
const NOTIFY_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// A [`Store`](crate::Store) on PostgreSQL.
pub struct PgStore {
    pool: PgPool,
    feed: Feed,
    notifier: notify::Notifier,
    listener: JoinHandle<()>,
    /// Follows the primary when the URL names several hosts (or asks for a writable one).
    watcher: Option<JoinHandle<()>>,
    liveness: liveness::Liveness,
    barriers: barrier::Barriers,
    /// Extensions known to have their audit chain row (rows are never deleted).
    chain_heads: std::sync::Mutex<std::collections::HashSet<i64>>,
    /// The key the audit chains are linked with, once the service gave it.
    audit_root: crate::chain::RootSlot,
    /// The audit writer's connection, kept between its batches (see `audit::Held`).
    audit_conn: tokio::sync::Mutex<Option<audit::Held>>,
    /// Where the primary is; a kept connection is used only while it has not moved.
    primary: failover::Primary,
}

impl PgStore {
    /// Connects, runs the migrations, and starts LISTENing for other processes' changes
    /// before returning, so no change committed after this returns is missed.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, &crate::StoreOptions::default()).await
    }

    /// [`Self::connect`] with options (how long a caller waits for a connection).
    pub async fn connect_with(
        url: &str,
        store_options: &crate::StoreOptions,
    ) -> Result<Self, StoreError> {
        let wait = store_options.connection_wait;
        let targets = targets::Targets::parse(url)?;
        let options = if targets.may_fail_over() {
            targets.find_primary(wait).await?
        } else {
            targets.first().clone()
        };
        first_contact::check(&options, wait).await?;
        let primary = failover::Primary::new(options.clone());
        let mut pool_options = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .acquire_timeout(wait);
        if targets.may_fail_over() {
            // After a move, connections to the old primary are closed, not handed out.
            let primary = primary.clone();
            pool_options = pool_options.before_acquire(move |_, meta| {
                let fresh = primary.opened_since_move(meta.age);
                Box::pin(async move { Ok(fresh) })
            });
        }
        let pool = pool_options
            .connect_with(options.clone().application_name("lumio"))
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;

        let feed = Feed::new();
        let origin = payload::Origin::random();
        let echoes = notify::Echoes::default();
        let liveness = liveness::Liveness::default();
        let barriers = barrier::Barriers::default();
        let forward = notify::Forward {
            feed: feed.clone(),
            origin,
            echoes: echoes.clone(),
            liveness: liveness.clone(),
            barriers: barriers.clone(),
        };
        let listener = notify::listen(&primary, forward).await?;
        let notifier = notify::Notifier::start(&primary, origin, echoes, liveness.clone());
        let watcher = targets
            .may_fail_over()
            .then(|| failover::watch(targets, primary.clone(), pool.clone(), wait));
        // A previous run of this process may have died between a commit and its
        // notification; peers drop their caches once so they cannot keep a stale value.
        notifier.everything();
        Ok(Self {
            pool,
            feed,
            notifier,
            listener,
            watcher,
            liveness,
            barriers,
            chain_heads: Default::default(),
            audit_root: Default::default(),
            audit_conn: Default::default(),
            primary,
        })
    }

    /// Tells this process (at once) and every other process (via NOTIFY) about changes,
    /// returning once PostgreSQL has answered the notifying statement and delivered the
    /// notifications back to this process's own listener, so the caller's next read
    /// through another process, after that process's barrier, sees the change.
    async fn tell(&self, changes: impl IntoIterator<Item = Change>) {
        let mut sent = Vec::new();
        for change in changes {
            self.feed.send(change.clone());
            sent.push(self.notifier.send(change));
        }
        // A feed that is down or silent cannot echo anything back: do not wait for that.
        confirmed(sent, self.liveness.live()).await;
    }
}

/// Waits until each notifying statement was answered and, if `echoes`, this process's
/// listener heard each notification back.
async fn confirmed(sent: Vec<notify::Sent>, echoes: bool) {
    for notify::Sent { answered, echoed } in sent {
        // A receiver whose sender is gone (the notifier stopped) answers at once.
        let done = async {
            let _ = answered.await;
            if echoes {
                let _ = echoed.await;
            }
        };
        // Bounded: a database that stopped answering must not hang writes forever;
        // its listeners lose their connection and drop their caches anyway.
        if tokio::time::timeout(NOTIFY_WAIT, done).await.is_err() {
            tracing::warn!("change notification not confirmed in time; other servers may briefly serve a cached value");
            break;
        }
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        // The notifier stops by itself once its queue is drained and closed.
        self.listener.abort();
        if let Some(watcher) = &self.watcher {
            watcher.abort();
        }
        // sqlx gives a connection back to its pool from a spawned task, which panics once
        // the runtime is gone (a store dropped after it): then the writer's kept
        // connection is detached and closed with its socket instead.
        if tokio::runtime::Handle::try_current().is_err() {
            if let Some(held) = self.audit_conn.get_mut().take() {
                drop(held.detach());
            }
        }
    }
}

/// One pool serves reads and writes.
impl Backend for PgStore {
    type Db = Postgres;

    fn readers(&self) -> &PgPool {
        &self.pool
    }
}

impl_store!(PgStore, Postgres, "postgres", {
    async fn prepare_audit_log(&self, until: DateTime<Utc>) -> Result<(), StoreError> {
        self.create_audit_partitions(until).await
    }

    fn feed_connected(&self) -> bool {
        self.liveness.live()
    }

    fn changes_unknown(&self) {
        self.feed.send(Change::Everything);
        self.notifier.everything();
    }

    fn pool_usage(&self) -> Option<PoolUsage> {
        Some(PoolUsage {
            open: self.pool.size(),
            idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
            max: POOL_SIZE,
        })
    }

    fn sync_marker(&self) -> Option<u64> {
        // With the listener down no barrier can come back: answer from the caches (an
        // outage is not an action outage); they are dropped once the listener is back.
        self.liveness.live().then(|| self.barriers.ask())
    }
});
