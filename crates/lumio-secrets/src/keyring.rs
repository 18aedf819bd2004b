//! The keyring a running service holds, and how it follows the database's: after an
//! online rotation on any server, every server must seal under the new key and open what
//! was rewrapped under it. A follower checks `keyring_current` every [`FOLLOW_EVERY`]
//! (one primary-key read of `lumio_meta`), and at once when a read meets a key it does
//! not hold. New keys are unwrapped with the unseal key; keys already held are never
//! fetched again, so a KMS that went away does not stop a server that holds every key.

use std::sync::{Arc, Weak};
use std::time::Duration;

use lumio_core::SecretValue;
use lumio_crypto::{CryptoError, Keyring, MasterKey, SecretPlace};

use crate::unseal::{load_entry, stored_ids, UnsealKey};
use crate::{Inner, SecretsService, ServiceError};

/// How often a server checks whether another one rotated the master key. A rotation
/// waits [`FOLLOW_GRACE`] after naming the new key before it rewraps anything.
pub(crate) const FOLLOW_EVERY: Duration = Duration::from_secs(1);
/// Longer than [`FOLLOW_EVERY`] plus a slow read: by then every live server seals new
/// versions under the new key, so the rewrap's passes do not chase new old-key writes.
pub(crate) const FOLLOW_GRACE: Duration = Duration::from_secs(3);

impl SecretsService {
    /// The keyring as it is now.
    pub(crate) fn keys(&self) -> Arc<Keyring> {
        self.inner
            .keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn replace_keys(&self, keys: Keyring) {
        *self
            .inner
            .keys
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(keys);
    }

    pub(crate) fn unseal(&self) -> Option<&Arc<dyn UnsealKey>> {
        self.inner.unseal.get()
    }

    /// Gives the service the key that wraps the keyring, which lets it rotate and follow
    /// rotations made elsewhere; starts the follower task. Call once, inside tokio.
    pub fn set_unseal(&self, unseal: Arc<dyn UnsealKey>) {
        if self.inner.unseal.set(unseal).is_ok() {
            follow(Arc::downgrade(&self.inner));
        }
    }

    /// Opens a stored record; a record under a key this server does not hold yet (another
    /// server rotated a moment ago) makes it load the database's keyring and try again.
    pub(crate) async fn open_sealed(
        &self,
        place: &SecretPlace<'_>,
        sealed: &[u8],
    ) -> Result<SecretValue, ServiceError> {
        match self.keys().open(place, sealed) {
            Err(CryptoError::UnknownKey(id)) if self.unseal().is_some() => {
                self.refresh_keyring().await?;
                let keys = self.keys();
                if keys.get(id).is_none() {
                    // A retired key (no longer listed) that a straggler sealed under.
                    let unseal = self.unseal().expect("checked above");
                    let store = self.inner.store.as_ref();
                    let key = load_entry(store, unseal.as_ref(), &id.to_string()).await?;
                    self.replace_keys(keys.with_current(keys.current().duplicate(), vec![key]));
                }
                Ok(self.keys().open(place, sealed)?)
            }
            other => Ok(other?),
        }
    }

    /// Loads the database's current key and any other keyring key this server does not
    /// hold. Returns whether the current key changed.
    pub(crate) async fn refresh_keyring(&self) -> Result<bool, ServiceError> {
        let Some(unseal) = self.unseal() else {
            return Ok(false);
        };
        let store = self.inner.store.as_ref();
        let (current, ids) = stored_ids(store).await?;
        let held = self.keys();
        let held_id = |id: &str| held.keys().find(|key| key.id().to_string() == id);
        let mut missing: Vec<MasterKey> = Vec::new();
        for id in &ids {
            if held_id(id).is_none() {
                missing.push(load_entry(store, unseal.as_ref(), id).await?);
            }
        }
        let Some(current) = current else {
            // No keyring yet: the key file is current, as this server already knows.
            if !missing.is_empty() {
                self.replace_keys(held.with_current(held.current().duplicate(), missing));
            }
            return Ok(false);
        };
        if held.current().id().to_string() == current {
            if !missing.is_empty() {
                self.replace_keys(held.with_current(held.current().duplicate(), missing));
            }
            return Ok(false);
        }
        let new_current = match held_id(&current) {
            Some(key) => key.duplicate(),
            None => match missing.iter().position(|k| k.id().to_string() == current) {
                Some(at) => missing.remove(at),
                None => load_entry(store, unseal.as_ref(), &current).await?,
            },
        };
        tracing::info!(key_id = %current, "sealing under the master key a rotation named current");
        self.replace_keys(held.with_current(new_current, missing));
        Ok(true)
    }
}

/// Follows `keyring_current` until the service is dropped.
fn follow(inner: Weak<Inner>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(FOLLOW_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(inner) = inner.upgrade() else { return };
            let service = SecretsService { inner };
            if let Err(err) = service.refresh_keyring().await {
                tracing::warn!(%err, "could not check for a new master key; retrying");
            }
        }
    });
}
