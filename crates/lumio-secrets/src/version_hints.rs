//! The latest version of each secret this process wrote or read, so a set can seal its
//! new version without first asking the store for the head (one statement less on the
//! hot write path). Only a hint: the store applies a write only if the version it
//! expects is still the latest, so a stale hint costs one retry, never a wrong write.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use lumio_core::{Environment, SecretName};

type Key = (i64, Environment, SecretName);

#[derive(Default)]
pub(crate) struct VersionHints {
    latest: Mutex<HashMap<Key, i64>>,
}

impl VersionHints {
    /// The hinted latest version of every name, or `None` if any is unknown.
    pub(crate) fn get(
        &self,
        extension_id: i64,
        environment: Environment,
        names: &[SecretName],
    ) -> Option<BTreeMap<SecretName, i64>> {
        let latest = self.lock();
        names
            .iter()
            .map(|name| {
                let key = (extension_id, environment, name.clone());
                latest.get(&key).map(|&version| (name.clone(), version))
            })
            .collect()
    }

    pub(crate) fn remember(
        &self,
        extension_id: i64,
        environment: Environment,
        versions: impl IntoIterator<Item = (SecretName, i64)>,
    ) {
        let mut latest = self.lock();
        for (name, version) in versions {
            latest.insert((extension_id, environment, name), version);
        }
    }

    pub(crate) fn forget(&self, extension_id: i64, environment: Environment, name: &SecretName) {
        self.lock()
            .remove(&(extension_id, environment, name.clone()));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, i64>> {
        // Nothing panics while it is held, and a hint may be wrong anyway.
        self.latest.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> SecretName {
        SecretName::parse(text).unwrap()
    }

    #[test]
    fn hints_need_every_name_and_stay_in_their_scope() {
        let hints = VersionHints::default();
        let staging = Environment::Staging;
        hints.remember(1, staging, [(name("A"), 3), (name("B"), 1)]);
        let both = hints.get(1, staging, &[name("A"), name("B")]).unwrap();
        assert_eq!(both, BTreeMap::from([(name("A"), 3), (name("B"), 1)]));
        assert!(hints.get(1, staging, &[name("A"), name("C")]).is_none());
        assert!(hints.get(2, staging, &[name("A")]).is_none());
        assert!(hints
            .get(1, Environment::Production, &[name("A")])
            .is_none());
        hints.forget(1, staging, &name("A"));
        assert!(hints.get(1, staging, &[name("A")]).is_none());
    }
}
