//! The key hierarchy (issue 22): an **unseal key** — the master key file, or a KMS transit
//! key the server never sees — wraps the **keyring**'s master keys, which the database
//! holds only wrapped. Data keys are wrapped by the keyring's current key.
//!
//! In `lumio_meta`: `keyring/<id>` is the key with that id, wrapped under the unseal key;
//! `keyring_ids` lists the ids still in use (one per line); `keyring_current` names the one
//! that seals. A store made before the keyring has none of them: its current key is the
//! master key file itself, as before, and stays readable after a rotation because the
//! file key is always held.

use async_trait::async_trait;
use lumio_core::SecretValue;
use lumio_crypto::{open, seal, Keyring, MasterKey, SecretPlace};
use lumio_store::Store;

use crate::ServiceError;

pub(crate) const CURRENT: &str = "keyring_current";
pub(crate) const IDS: &str = "keyring_ids";

/// The `lumio_meta` key of a wrapped keyring key.
pub(crate) fn entry(id: &str) -> String {
    format!("keyring/{id}")
}

/// Why the unseal key could not wrap or unwrap. Messages name what to check (the KMS's
/// address, the token's file) and never carry key material or a token.
#[derive(Debug, thiserror::Error)]
pub enum UnsealError {
    /// The KMS could not be reached or answered with a server error: retry once it is up.
    #[error("{0}")]
    Unavailable(String),
    /// The KMS or key file refused: a wrong token, a wrong key, a missing permission.
    #[error("{0}")]
    Refused(String),
}

/// The key that wraps the keyring's keys.
#[async_trait]
pub trait UnsealKey: Send + Sync {
    /// Wraps `key` for the database.
    async fn wrap(&self, key: &MasterKey) -> Result<Vec<u8>, UnsealError>;
    /// Unwraps the keyring key stored under `id`.
    async fn unwrap(&self, id: &str, wrapped: &[u8]) -> Result<MasterKey, UnsealError>;
    /// The key itself when it is a master key held in memory (a key file): records it
    /// sealed directly, before the keyring existed, stay readable. `None` for a KMS.
    fn held_key(&self) -> Option<&MasterKey>;
}

/// The master key file as the unseal key: keyring keys are sealed under it like a secret
/// at an internal place no extension can name.
pub struct FileUnseal(MasterKey);

impl FileUnseal {
    pub fn new(key: MasterKey) -> Self {
        Self(key)
    }
}

fn keyring_place(id: &str) -> SecretPlace<'_> {
    SecretPlace {
        extension_id: 0,
        environment: "lumio-keyring",
        name: id,
        version: 0,
    }
}

#[async_trait]
impl UnsealKey for FileUnseal {
    async fn wrap(&self, key: &MasterKey) -> Result<Vec<u8>, UnsealError> {
        let id = key.id().to_string();
        let text = SecretValue::new(key.to_base64().to_string())
            .map_err(|_| UnsealError::Refused("a master key does not fit a record".into()))?;
        Ok(seal(&self.0, &keyring_place(&id), &text))
    }

    async fn unwrap(&self, id: &str, wrapped: &[u8]) -> Result<MasterKey, UnsealError> {
        unwrap_with(&self.0, id, wrapped).ok_or_else(|| {
            UnsealError::Refused(format!(
                "the master key file (key {}) does not open keyring key {id} stored in the \
                 database: start the server with the master key file this database was set \
                 up with (or, to replace that file, with the new one and the old one as \
                 --previous-master-key-file)",
                self.0.id()
            ))
        })
    }

    fn held_key(&self) -> Option<&MasterKey> {
        Some(&self.0)
    }
}

/// The keyring key `id` sealed under the key file `key`, if it is.
fn unwrap_with(key: &MasterKey, id: &str, wrapped: &[u8]) -> Option<MasterKey> {
    let text = open(key, &keyring_place(id), wrapped).ok()?;
    let key = MasterKey::from_base64(text.expose()).ok()?;
    check_unwrapped_id(key, id).ok()
}

/// Refuses an unwrapped key that is not the one its entry names.
pub fn check_unwrapped_id(key: MasterKey, id: &str) -> Result<MasterKey, UnsealError> {
    if key.id().to_string() == id {
        Ok(key)
    } else {
        Err(UnsealError::Refused(format!(
            "keyring key {id} unwrapped to a different key ({}): the database entry was \
             altered or copied from another installation",
            key.id()
        )))
    }
}

/// The ids named by `keyring_ids`, and the current one.
pub(crate) async fn stored_ids(
    store: &dyn Store,
) -> Result<(Option<String>, Vec<String>), ServiceError> {
    let current = store
        .meta_get(CURRENT)
        .await?
        .map(|v| String::from_utf8_lossy(&v).into_owned());
    let ids = store
        .meta_get(IDS)
        .await?
        .map(|v| parse_ids(&v))
        .unwrap_or_default();
    Ok((current, ids))
}

pub(crate) fn parse_ids(value: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(value)
        .lines()
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Unwraps one stored keyring key.
pub(crate) async fn load_entry(
    store: &dyn Store,
    unseal: &dyn UnsealKey,
    id: &str,
) -> Result<MasterKey, ServiceError> {
    let wrapped = store.meta_get(&entry(id)).await?.ok_or_else(|| {
        ServiceError::Unseal(UnsealError::Refused(format!(
            "keyring key {id} is named in the database but its entry is missing: restore \
             the database from a backup"
        )))
    })?;
    Ok(unseal.unwrap(id, &wrapped).await?)
}

/// The key id a store was set up with, if it was: it holds a key check or a keyring
/// (`"(id not recorded)"` for a bare key check). A store set up before must not get a
/// freshly generated key.
pub async fn set_up_with(store: &dyn Store) -> Result<Option<String>, ServiceError> {
    for meta in ["kek_id", "keyring_current", "key_check"] {
        if let Some(id) = store.meta_get(meta).await? {
            return Ok(Some(if meta == "key_check" {
                "(id not recorded)".to_owned()
            } else {
                String::from_utf8_lossy(&id).into_owned()
            }));
        }
    }
    Ok(None)
}

/// The keyring this store holds, unwrapped: its current key seals, every other one (and
/// the unseal key itself when it is a key file, and `previous` from the command line)
/// opens what it sealed. A store without a keyring uses the key file as its current key;
/// under a KMS, the first start generates the first keyring key and stores it wrapped.
pub async fn load_keyring(
    store: &dyn Store,
    unseal: &dyn UnsealKey,
    previous: Vec<MasterKey>,
) -> Result<Keyring, ServiceError> {
    let (mut current, mut ids) = stored_ids(store).await?;
    if current.is_none() && unseal.held_key().is_none() {
        refuse_a_store_of_another_key(store, &previous).await?;
        current = Some(create_first_key(store, unseal).await?);
    }
    let Some(current_id) = current else {
        let file = unseal.held_key().expect("checked above").duplicate();
        return Ok(Keyring::new(file, previous));
    };
    let current = load_at_start(store, unseal, &previous, &current_id).await?;
    ids.retain(|id| *id != current_id);
    let mut others = Vec::new();
    for id in &ids {
        others.push(load_at_start(store, unseal, &previous, id).await?);
    }
    others.extend(previous);
    if let Some(file) = unseal.held_key() {
        others.push(file.duplicate());
    }
    Ok(Keyring::new(current, others))
}

/// [`load_entry`], and when the unseal key does not open the entry but a previous key file
/// does, the unseal key itself is being replaced (a new key file, or a move from a key
/// file to a KMS): the entry is wrapped again under the new unseal key.
async fn load_at_start(
    store: &dyn Store,
    unseal: &dyn UnsealKey,
    previous: &[MasterKey],
    id: &str,
) -> Result<MasterKey, ServiceError> {
    let refused = match load_entry(store, unseal, id).await {
        Err(ServiceError::Unseal(UnsealError::Refused(why))) => why,
        other => return other,
    };
    let wrapped = store.meta_get(&entry(id)).await?.unwrap_or_default();
    let Some(key) = previous
        .iter()
        .find_map(|old| unwrap_with(old, id, &wrapped))
    else {
        return Err(ServiceError::Unseal(UnsealError::Refused(refused)));
    };
    let rewrapped = unseal.wrap(&key).await?;
    store.meta_replace(&entry(id), &wrapped, &rewrapped).await?;
    tracing::info!(key_id = %id, "keyring key wrapped again under the new unseal key");
    Ok(key)
}

/// Under a KMS, a store set up with a key file (it has a key check but no keyring) is
/// refused unless that file is given as a previous key: a keyring written now would name
/// a key its secrets are not under, and a restart with the file alone would then fail.
async fn refuse_a_store_of_another_key(
    store: &dyn Store,
    previous: &[MasterKey],
) -> Result<(), ServiceError> {
    let Some(check) = store.meta_get("key_check").await? else {
        return Ok(());
    };
    if previous
        .iter()
        .any(|key| lumio_crypto::verify_key_check(key, &check).is_ok())
    {
        return Ok(());
    }
    let id = store.meta_get("kek_id").await?.unwrap_or_default();
    Err(ServiceError::Unseal(UnsealError::Refused(format!(
        "this database was set up with the master key file whose key id is {}; to move it \
         under the KMS, also pass that file as --previous-master-key-file (every secret is \
         then moved to a key the KMS wraps)",
        String::from_utf8_lossy(&id)
    ))))
}

/// Generates the first keyring key, stores it wrapped, and names it current; if another
/// server did so at the same moment, its key is the one used.
async fn create_first_key(
    store: &dyn Store,
    unseal: &dyn UnsealKey,
) -> Result<String, ServiceError> {
    let key = MasterKey::generate();
    let id = key.id().to_string();
    let wrapped = unseal.wrap(&key).await?;
    store.meta_put_if_absent(&entry(&id), &wrapped).await?;
    store.meta_put_if_absent(IDS, id.as_bytes()).await?;
    if store.meta_put_if_absent(CURRENT, id.as_bytes()).await? {
        tracing::info!(key_id = %id, "generated the first master key; the database holds it only wrapped by the unseal key");
        return Ok(id);
    }
    let winner = store.meta_get(CURRENT).await?.unwrap_or_default();
    Ok(String::from_utf8_lossy(&winner).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
    }

    #[test]
    fn a_key_file_wraps_and_unwraps_a_keyring_key_bound_to_its_id() {
        runtime().block_on(async {
            let file = MasterKey::generate();
            let file_b64 = file.to_base64().to_string();
            let unseal = FileUnseal::new(file);
            let key = MasterKey::generate();
            let id = key.id().to_string();
            let wrapped = unseal.wrap(&key).await.unwrap();
            let key_b64 = key.to_base64().to_string();
            assert!(!String::from_utf8_lossy(&wrapped).contains(&key_b64));
            let back = unseal.unwrap(&id, &wrapped).await.unwrap();
            assert_eq!(back.id(), key.id());

            // Moved to another id, or opened with another file: refused, saying what to do,
            // with no key material in the message.
            let other = MasterKey::generate().id().to_string();
            for err in [
                unseal.unwrap(&other, &wrapped).await.unwrap_err(),
                FileUnseal::new(MasterKey::generate())
                    .unwrap(&id, &wrapped)
                    .await
                    .unwrap_err(),
            ] {
                let shown = format!("{err} {err:?}");
                assert!(shown.contains("--previous-master-key-file"), "{shown}");
                assert!(!shown.contains(&key_b64) && !shown.contains(&file_b64));
            }
        });
    }

    #[test]
    fn ids_are_one_per_line() {
        assert_eq!(
            parse_ids(b"a\n\n b \n"),
            vec!["a".to_owned(), "b".to_owned()]
        );
        assert_eq!(entry("0011"), "keyring/0011");
    }
}
