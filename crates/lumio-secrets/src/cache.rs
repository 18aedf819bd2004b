//! In-memory caches for the hot read paths: secret values (with their egress bindings)
//! for the runtime, secret lists,
//! extensions, tokens. A cached token is used only after a change-feed barrier (see
//! `tokens.rs`), so a revocation holds on every server at once.
//!
//! Correctness rule: a write invalidates synchronously in the process that made it, and the
//! store's change feed invalidates every other process (PostgreSQL LISTEN/NOTIFY). A reader
//! fills the cache only if no invalidation happened since it started reading (generation
//! check), so a slow read can never put an old value back after a newer write.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use lumio_core::{CurrentValue, Environment};
use lumio_store::{Change, Extension, SecretHead, SyncedUpTo, TokenRecord};
use tokio::sync::broadcast;

type SecretKey = (i64, Environment, String);

/// A map whose fills are skipped if an invalidation raced with the read that produced them.
pub(crate) struct GuardedMap<K, V> {
    map: RwLock<HashMap<K, V>>,
}

impl<K: Eq + Hash, V: Clone> GuardedMap<K, V> {
    fn new() -> Self {
        Self {
            map: RwLock::new(HashMap::new()),
        }
    }

    pub(crate) fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        self.map.read().expect("cache lock").get(key).cloned()
    }

    fn fill(&self, generation: &AtomicU64, seen: u64, key: K, value: V) {
        let mut map = self.map.write().expect("cache lock");
        // Checked under the write lock: invalidations take it too, so none can slip between.
        if generation.load(Ordering::Acquire) == seen {
            map.insert(key, value);
        }
    }

    fn remove_where(&self, keep: impl FnMut(&K, &mut V) -> bool) {
        self.map.write().expect("cache lock").retain(keep);
    }

    fn clear(&self) {
        self.map.write().expect("cache lock").clear();
    }
}

/// All caches of one service.
pub(crate) struct Caches {
    generation: Arc<AtomicU64>,
    pub(crate) values: GuardedMap<SecretKey, Option<CurrentValue>>,
    pub(crate) lists: GuardedMap<(i64, Environment), Arc<Vec<SecretHead>>>,
    pub(crate) extensions: GuardedMap<String, Extension>,
    /// Each extension as last read, kept through feed outages (which clear `extensions`)
    /// for when the database cannot be asked; dropped when the extension itself changes.
    last_known: GuardedMap<String, Extension>,
    /// Live tokens by id (only found ones: ids an attacker makes up are never kept).
    pub(crate) tokens: GuardedMap<String, TokenRecord>,
    /// How far the feed has been applied (see `SecretsService::caught_up_to`).
    pub(crate) synced: SyncedUpTo,
}

impl Default for Caches {
    fn default() -> Self {
        Self {
            generation: Arc::new(AtomicU64::new(0)),
            values: GuardedMap::new(),
            lists: GuardedMap::new(),
            extensions: GuardedMap::new(),
            last_known: GuardedMap::new(),
            tokens: GuardedMap::new(),
            synced: SyncedUpTo::default(),
        }
    }
}

/// A generation taken before a read; hand it back to fill the cache with the result.
#[derive(Clone, Copy)]
pub(crate) struct Seen(u64);

impl Caches {
    pub(crate) fn begin_read(&self) -> Seen {
        Seen(self.generation.load(Ordering::Acquire))
    }

    pub(crate) fn fill_value(&self, seen: Seen, key: SecretKey, value: Option<CurrentValue>) {
        self.values.fill(&self.generation, seen.0, key, value);
    }

    pub(crate) fn fill_list(
        &self,
        seen: Seen,
        key: (i64, Environment),
        list: Arc<Vec<SecretHead>>,
    ) {
        self.lists.fill(&self.generation, seen.0, key, list);
    }

    pub(crate) fn fill_token(&self, seen: Seen, token: TokenRecord) {
        self.tokens
            .fill(&self.generation, seen.0, token.id.clone(), token);
    }

    /// Claims, suspensions and deletions change an extension, so a fill is checked like
    /// any other.
    pub(crate) fn fill_extension(&self, seen: Seen, extension: Extension) {
        let key = extension.slug.as_str().to_owned();
        self.last_known
            .fill(&self.generation, seen.0, key.clone(), extension.clone());
        self.extensions
            .fill(&self.generation, seen.0, key, extension);
    }

    /// The extension as this process last read it, for when the store cannot be asked.
    pub(crate) fn last_known_extension(&self, slug: &str) -> Option<Extension> {
        self.last_known.get(slug)
    }

    pub(crate) fn apply(&self, change: &Change) {
        match change {
            Change::Secret {
                extension_id,
                environment,
                name,
            } => self.invalidate(|| {
                self.values.remove_where(|(id, env, n), _| {
                    !(id == extension_id && env == environment && n == name)
                });
                self.lists
                    .remove_where(|(id, env), _| !(id == extension_id && env == environment));
            }),
            Change::Extension { extension_id } => self.invalidate(|| {
                self.extensions.remove_where(|_, e| e.id != *extension_id);
                self.last_known.remove_where(|_, e| e.id != *extension_id);
                self.values.remove_where(|(id, _, _), _| id != extension_id);
                self.lists.remove_where(|(id, _), _| id != extension_id);
                // A deleted extension's tokens are gone: none may stay cached.
                self.tokens.remove_where(|_, token| {
                    !matches!(token.grant, lumio_store::Grant::Extension { extension_id: id, .. } if id == *extension_id)
                });
            }),
            Change::TokenRevoked { id } => self.invalidate(|| {
                self.tokens.remove_where(|cached, _| cached != id);
            }),
            Change::Everything => self.invalidate(|| {
                self.values.clear();
                self.lists.clear();
                self.tokens.clear();
                self.extensions.clear();
            }),
            // Deployments are the actions service's to cache.
            Change::Deployment { .. } => {}
            // Everything before this marker was applied already, in feed order.
            Change::Synced(seq) => self.synced.reached(*seq),
        }
    }

    /// Runs `remove` between two generation bumps, so a read that began before or during
    /// the removal cannot fill the cache with what it read.
    fn invalidate(&self, remove: impl FnOnce()) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        remove();
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Applies the store's change feed until the store goes away.
    pub(crate) fn follow(self: &Arc<Self>, feed: broadcast::Receiver<Change>) {
        let caches = Arc::clone(self);
        lumio_store::follow(feed, move |change| caches.apply(change));
    }
}
