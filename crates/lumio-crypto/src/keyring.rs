//! The master keys a server holds: the current one, which seals everything new, and any
//! previous ones, which only open records not yet moved to the current key. Records name
//! their key, so opening picks the right one without trying each.

use lumio_core::SecretValue;

use crate::envelope::{open, seal, sealed_key_id, CryptoError, SecretPlace};
use crate::master_key::{KeyId, MasterKey};

pub struct Keyring {
    current: MasterKey,
    previous: Vec<MasterKey>,
}

impl Keyring {
    /// `previous` keys equal to `current` are dropped: a key is never its own predecessor.
    pub fn new(current: MasterKey, previous: Vec<MasterKey>) -> Self {
        let previous = previous
            .into_iter()
            .filter(|key| key.id() != current.id())
            .collect();
        Self { current, previous }
    }

    /// The key that seals.
    pub fn current(&self) -> &MasterKey {
        &self.current
    }

    /// The keys being rotated away from.
    pub fn previous(&self) -> &[MasterKey] {
        &self.previous
    }

    /// Every held key, the current one first.
    pub fn keys(&self) -> impl Iterator<Item = &MasterKey> {
        std::iter::once(&self.current).chain(&self.previous)
    }

    /// The held key with this id.
    pub fn get(&self, id: KeyId) -> Option<&MasterKey> {
        self.keys().find(|key| key.id() == id)
    }

    /// A keyring sealing under `current` that still opens everything this one does, and
    /// what `more` keys seal: the step an online rotation (or a server following one)
    /// takes. Held keys are copied into pages of their own; this ring is left as it is
    /// for the readers still using it.
    #[must_use]
    pub fn with_current(&self, current: MasterKey, more: Vec<MasterKey>) -> Self {
        let mut previous: Vec<MasterKey> = self.keys().map(MasterKey::duplicate).collect();
        for key in more {
            if previous.iter().all(|held| held.id() != key.id()) {
                previous.push(key);
            }
        }
        Self::new(current, previous)
    }

    /// Opens a record sealed under any held key.
    pub fn open(&self, place: &SecretPlace<'_>, sealed: &[u8]) -> Result<SecretValue, CryptoError> {
        let key = sealed_key_id(sealed)
            .and_then(|id| self.get(id))
            .unwrap_or(&self.current);
        open(key, place, sealed)
    }

    /// The record sealed afresh (new data key, new nonces) under the current key, for the
    /// same place. Fails as [`Self::open`] does; a record already under the current key
    /// is resealed too.
    pub fn reseal(&self, place: &SecretPlace<'_>, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let value = self.open(place, sealed)?;
        Ok(seal(&self.current, place, &value))
    }
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let previous: Vec<KeyId> = self.previous.iter().map(MasterKey::id).collect();
        f.debug_struct("Keyring")
            .field("current", &self.current.id())
            .field("previous", &previous)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLACE: SecretPlace<'static> = SecretPlace {
        extension_id: 1,
        environment: "staging",
        name: "API_KEY",
        version: 3,
    };

    fn value() -> SecretValue {
        SecretValue::new("sk-rotate-me".to_owned()).unwrap()
    }

    #[test]
    fn opens_under_either_key_and_reseals_under_the_current_one() {
        let old = MasterKey::generate();
        let sealed_old = seal(&old, &PLACE, &value());
        let new = MasterKey::generate();
        let new_id = new.id();
        let ring = Keyring::new(new, vec![old]);
        assert_eq!(ring.open(&PLACE, &sealed_old).unwrap(), value());
        let resealed = ring.reseal(&PLACE, &sealed_old).unwrap();
        assert_eq!(sealed_key_id(&resealed), Some(new_id));
        assert_eq!(open(ring.current(), &PLACE, &resealed).unwrap(), value());
        // Bound to its place as before.
        let elsewhere = SecretPlace {
            version: 4,
            ..PLACE
        };
        assert_eq!(
            ring.open(&elsewhere, &resealed),
            Err(CryptoError::DecryptionFailed)
        );
    }

    #[test]
    fn a_record_under_a_key_not_held_names_that_key() {
        let stranger = MasterKey::generate();
        let sealed = seal(&stranger, &PLACE, &value());
        let ring = Keyring::new(MasterKey::generate(), vec![MasterKey::generate()]);
        assert_eq!(
            ring.open(&PLACE, &sealed),
            Err(CryptoError::UnknownKey(stranger.id()))
        );
    }

    #[test]
    fn with_current_seals_under_the_new_key_and_still_opens_the_old() {
        let old = MasterKey::generate();
        let sealed_old = seal(&old, &PLACE, &value());
        let ring = Keyring::new(old, vec![]);
        let new = MasterKey::generate();
        let new_id = new.id();
        let next = ring.with_current(new, vec![MasterKey::generate()]);
        assert_eq!(next.current().id(), new_id);
        assert_eq!(next.previous().len(), 2);
        assert_eq!(next.open(&PLACE, &sealed_old).unwrap(), value());
        // The old ring is unchanged for readers that still hold it.
        assert_eq!(ring.open(&PLACE, &sealed_old).unwrap(), value());
    }

    #[test]
    fn debug_shows_key_ids_only() {
        let ring = Keyring::new(MasterKey::generate(), vec![]);
        let shown = format!("{ring:?}");
        assert!(shown.contains(&ring.current().id().to_string()));
        assert!(!shown.contains(ring.current().to_base64().as_str()));
    }
}
