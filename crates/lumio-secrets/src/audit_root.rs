//! The audit root key: the key every extension's audit chain key is derived from
//! (`lumio_core::AuditRootKey`, docs/audit-chain.md). 32 random bytes made at the first
//! start, kept in `lumio_meta` only sealed under the master key, so a database reader or
//! writer cannot link a forged record into a chain.
//!
//! Master-key rotation: the stored value is an ordinary `Keyring` envelope at
//! [`AUDIT_ROOT_PLACE`]; [`reseal_audit_root`] moves it to the current key, and
//! [`load_audit_root`] opens it under any key the ring holds.

use lumio_core::{AuditRootKey, SecretValue};
use lumio_crypto::{Keyring, SecretPlace};
use lumio_store::{ChainVerdict, Store};
use zeroize::Zeroizing;

use crate::ServiceError;

/// The `lumio_meta` key of the sealed audit root key.
pub const AUDIT_ROOT_META: &str = "audit_root_key";

/// Set once every chain written before keyed links was linked again under its key: from
/// then on no chain is upgraded (an unkeyed chain found later was rewritten by hand).
const CHAINS_KEYED_META: &str = "audit_chains_keyed";

/// Where the audit root key is sealed. No secret can have this place: extension ids
/// start at 1 and a secret's environment is `staging` or `production`.
pub const AUDIT_ROOT_PLACE: SecretPlace<'static> = SecretPlace {
    extension_id: 0,
    environment: "lumio_meta",
    name: AUDIT_ROOT_META,
    version: 1,
};

/// The instance's audit root key, opened from `lumio_meta` with the master keys held;
/// created and stored (sealed under the current key) at the first start. When two
/// servers start on an empty store at once, the first to store it wins and both use it.
pub async fn load_audit_root(
    store: &dyn Store,
    keys: &Keyring,
) -> Result<AuditRootKey, ServiceError> {
    if let Some(sealed) = store.meta_get(AUDIT_ROOT_META).await? {
        return open_root(keys, &sealed);
    }
    let mut raw = Zeroizing::new([0u8; 32]);
    getrandom::getrandom(raw.as_mut()).expect("the OS random number generator failed");
    let value = SecretValue::new(hex::encode(raw.as_ref())).expect("64 characters");
    let sealed = lumio_crypto::seal(keys.current(), &AUDIT_ROOT_PLACE, &value);
    if store.meta_put_if_absent(AUDIT_ROOT_META, &sealed).await? {
        return Ok(AuditRootKey::from_bytes(*raw));
    }
    let sealed = store
        .meta_get(AUDIT_ROOT_META)
        .await?
        .ok_or(ServiceError::AuditRootUnreadable)?;
    open_root(keys, &sealed)
}

/// Moves the stored audit root key to the keyring's current master key (for master-key
/// rotation); false if another server moved it first or there is none yet.
pub async fn reseal_audit_root(store: &dyn Store, keys: &Keyring) -> Result<bool, ServiceError> {
    let Some(sealed) = store.meta_get(AUDIT_ROOT_META).await? else {
        return Ok(false);
    };
    let resealed = keys
        .reseal(&AUDIT_ROOT_PLACE, &sealed)
        .map_err(|_| ServiceError::AuditRootUnreadable)?;
    Ok(store
        .meta_replace(AUDIT_ROOT_META, &sealed, &resealed)
        .await?)
}

fn open_root(keys: &Keyring, sealed: &[u8]) -> Result<AuditRootKey, ServiceError> {
    let value = keys
        .open(&AUDIT_ROOT_PLACE, sealed)
        .map_err(|_| ServiceError::AuditRootUnreadable)?;
    let mut raw = [0u8; 32];
    hex::decode_to_slice(value.expose(), &mut raw)
        .map_err(|_| ServiceError::AuditRootUnreadable)?;
    let root = AuditRootKey::from_bytes(raw);
    zeroize::Zeroize::zeroize(&mut raw);
    Ok(root)
}

/// Loads the audit root key, links the chains an older server wrote (unkeyed) again
/// under their keys the first time, and hands the key to the store so it seals and
/// verifies. A chain whose unkeyed check failed is logged and says so in its own
/// `audit.chain_keyed` record; it is keyed all the same, so new records stay covered.
pub(crate) async fn start_audit_chains(
    store: &dyn Store,
    keys: &Keyring,
) -> Result<AuditRootKey, ServiceError> {
    let root = load_audit_root(store, keys).await?;
    if store.meta_get(CHAINS_KEYED_META).await?.is_none() {
        // The upgrade's own records need today's partition (PostgreSQL).
        store
            .prepare_audit_log(chrono::Utc::now() + chrono::Duration::days(1))
            .await?;
        for (extension_id, verdict) in store.key_audit_chains(&root).await? {
            match verdict {
                ChainVerdict::Intact { records, .. } => tracing::info!(
                    extension_id,
                    records,
                    "audit chain checked and linked again under its key"
                ),
                ChainVerdict::Broken(b) => tracing::error!(
                    extension_id,
                    seq = b.seq,
                    kind = b.kind.as_str(),
                    "audit chain was already broken before it was keyed; it is keyed as it \
                     stands and its audit.chain_keyed record says where it broke: compare \
                     with an older export or backup"
                ),
            }
        }
        store.meta_put_if_absent(CHAINS_KEYED_META, b"1").await?;
    }
    store.set_audit_root(root.clone());
    Ok(root)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lumio_crypto::MasterKey;

    fn same(a: &AuditRootKey, b: &AuditRootKey) -> bool {
        a.expose() == b.expose()
    }

    /// Made once and kept sealed; a master-key rotation rewraps it and it stays the same
    /// key; a master key that never sealed it cannot open it.
    #[tokio::test]
    async fn the_root_is_made_once_sealed_and_rewrapped_by_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/lumio.db", dir.path().display());
        let store = lumio_store::connect(&url).await.unwrap();
        let old = MasterKey::from_base64(&MasterKey::generate().to_base64()).unwrap();
        let old_again = || MasterKey::from_base64(&old.to_base64()).unwrap();
        let root = load_audit_root(store.as_ref(), &Keyring::new(old_again(), vec![]))
            .await
            .unwrap();
        let sealed = store.meta_get(AUDIT_ROOT_META).await.unwrap().unwrap();
        assert!(!sealed.windows(32).any(|w| w == root.expose().as_slice()));
        let again = load_audit_root(store.as_ref(), &Keyring::new(old_again(), vec![]))
            .await
            .unwrap();
        assert!(same(&root, &again));

        let new = MasterKey::generate();
        let new_b64 = new.to_base64();
        let rotating = Keyring::new(new, vec![old_again()]);
        assert!(reseal_audit_root(store.as_ref(), &rotating).await.unwrap());
        let only_new = Keyring::new(MasterKey::from_base64(&new_b64).unwrap(), vec![]);
        let after = load_audit_root(store.as_ref(), &only_new).await.unwrap();
        assert!(same(&root, &after));
        let err = load_audit_root(store.as_ref(), &Keyring::new(old_again(), vec![]))
            .await
            .unwrap_err();
        assert!(matches!(err, ServiceError::AuditRootUnreadable), "{err}");
    }
}
