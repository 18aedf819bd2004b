//! Which deployment is active per extension and environment, compiled, as this process
//! last saw it. A deploy through any process reaches every other one through the store's
//! change feed, so the next invocation after `lumio deploy` returns runs the new code
//! wherever it lands; the periodic recheck only backs the feed up.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lumio_core::Environment;
use lumio_runtime::Deployment;
use lumio_store::{Change, SyncedUpTo};
use tokio::sync::broadcast;

/// How long a cached entry is trusted without asking the store, should a notification be
/// lost without the feed noticing.
const RECHECK: Duration = Duration::from_secs(1);
/// Longest wait for the feed to reach a barrier before every entry is treated as stale.
const SYNC_WAIT: Duration = Duration::from_secs(2);

type Key = (i64, Environment);

struct Cached {
    version: i64,
    deployment: Arc<Deployment>,
    /// When the store last confirmed it; `None` once a change may have replaced it.
    confirmed_at: Option<Instant>,
}

/// A generation taken before asking the store, handed back when remembering the answer.
#[derive(Clone, Copy)]
pub(crate) struct Seen(u64);

#[derive(Default)]
pub(crate) struct ActiveDeployments {
    entries: Mutex<HashMap<Key, Cached>>,
    /// Bumped by every invalidation: an answer read before one is remembered as stale.
    generation: AtomicU64,
    /// How far this cache has applied the feed.
    synced: SyncedUpTo,
}

/// What the cache knows of a key.
pub(crate) enum Lookup {
    /// Confirmed recently and not invalidated since: use it.
    Fresh(Arc<Deployment>),
    /// Ask the store; if its version is still this one, the compiled copy can be reused.
    Stale(Option<(i64, Arc<Deployment>)>),
}

impl ActiveDeployments {
    pub(crate) fn lookup(&self, key: Key) -> (Lookup, Seen) {
        let seen = Seen(self.generation.load(Ordering::Acquire));
        let entries = self.lock();
        let lookup = match entries.get(&key) {
            Some(c) if c.confirmed_at.is_some_and(|at| at.elapsed() < RECHECK) => {
                Lookup::Fresh(Arc::clone(&c.deployment))
            }
            Some(c) => Lookup::Stale(Some((c.version, Arc::clone(&c.deployment)))),
            None => Lookup::Stale(None),
        };
        (lookup, seen)
    }

    /// Keeps what the store said is active. Never replaces a newer version; an answer
    /// read before an invalidation is kept but not trusted without asking again.
    pub(crate) fn remember(&self, key: Key, version: i64, deployment: Arc<Deployment>, seen: Seen) {
        let mut entries = self.lock();
        if entries.get(&key).is_some_and(|c| c.version > version) {
            return;
        }
        let current = self.generation.load(Ordering::Acquire) == seen.0;
        let confirmed_at = current.then(Instant::now);
        entries.insert(
            key,
            Cached {
                version,
                deployment,
                confirmed_at,
            },
        );
    }

    /// Waits until this cache has applied every change committed before the barrier
    /// `marker` was asked for; on a silent feed, distrusts every entry instead.
    pub(crate) async fn caught_up_to(&self, marker: u64) {
        if !self.synced.wait(marker, SYNC_WAIT).await {
            tracing::warn!("the change feed did not catch up in time; rechecking deployments");
            self.invalidate(|_| true);
        }
    }

    /// Applies the store's change feed until the store goes away.
    pub(crate) fn follow(self: &Arc<Self>, feed: broadcast::Receiver<Change>) {
        let cache = Arc::clone(self);
        lumio_store::follow(feed, move |change| cache.apply(change));
    }

    fn apply(&self, change: &Change) {
        match change {
            Change::Deployment {
                extension_id,
                environment,
            } => self.invalidate(|key| *key == (*extension_id, *environment)),
            Change::Extension { extension_id } => self.invalidate(|key| key.0 == *extension_id),
            Change::Everything => self.invalidate(|_| true),
            Change::Synced(seq) => self.synced.reached(*seq),
            Change::Secret { .. } | Change::TokenRevoked { .. } => {}
        }
    }

    fn invalidate(&self, matches: impl Fn(&Key) -> bool) {
        let mut entries = self.lock();
        self.generation.fetch_add(1, Ordering::AcqRel);
        for (key, cached) in entries.iter_mut() {
            if matches(key) {
                cached.confirmed_at = None;
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Cached>> {
        // Nothing panics while it is held; at worst an entry is rechecked.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}
