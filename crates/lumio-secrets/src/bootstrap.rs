//! Start-up checks: the master key matches the store, and an empty store gets its first
//! instance-admin token.

use std::sync::Arc;

use lumio_audit::AuditWriter;
use lumio_crypto::{Keyring, MasterKey};
use lumio_store::{Grant, Store};
use zeroize::Zeroizing;

use crate::rotation::rotate;
use crate::tokens::{bootstrap_record, check_bootstrap_token, mint};
use crate::{SecretsService, ServiceError, ServiceOptions};

const KEY_CHECK: &str = "key_check";
const KEY_ID: &str = "kek_id";

/// The first admin token, when this start created it.
pub enum BootstrapToken {
    /// Generated now; the caller writes it where the operator can read it, once.
    Generated(Zeroizing<String>),
    /// Taken from `LUMIO_BOOTSTRAP_TOKEN`.
    Provided,
}

/// A service ready to serve, and the admin token if this start made one.
pub struct Bootstrap {
    pub service: SecretsService,
    pub admin_token: Option<BootstrapToken>,
}

/// Opens the service on `store`: refuses master keys other than the one the store was
/// created with (or last rotated to), moves every secret sealed under a previous key to
/// the current one, and on an empty store creates the first admin token
/// (`bootstrap_token` if given, else a generated one). A `bootstrap_token` shorter than
/// [`crate::MIN_TOKEN_LEN`] or holding spaces is refused.
pub async fn open_service(
    store: Arc<dyn Store>,
    keys: Keyring,
    audit: AuditWriter,
    bootstrap_token: Option<&str>,
) -> Result<Bootstrap, ServiceError> {
    open_service_with(
        store,
        keys,
        audit,
        bootstrap_token,
        ServiceOptions::default(),
    )
    .await
}

/// [`open_service`] with `options` (say, a test's clock).
pub async fn open_service_with(
    store: Arc<dyn Store>,
    keys: Keyring,
    audit: AuditWriter,
    bootstrap_token: Option<&str>,
    options: ServiceOptions,
) -> Result<Bootstrap, ServiceError> {
    // Refused even when the store has tokens already: a weak value in the environment
    // is a mistake to fix, and it would become the admin token on the next empty store.
    if let Some(token) = bootstrap_token {
        check_bootstrap_token(token)?;
    }
    let check = check_master_key(store.as_ref(), &keys).await?;
    let online_rotation = store
        .meta_get(crate::master_rotation::STATE)
        .await?
        .is_some_and(|state| state.starts_with(b"rewrapping "));
    if online_rotation {
        // Resumed in the background once the server has its unseal key
        // (`SecretsService::resume_if_unfinished`); every key it needs is held.
    } else if !keys.previous().is_empty() {
        finish_rotation(store.as_ref(), &keys, check).await?;
    } else {
        refuse_unfinished_rotation(store.as_ref(), &keys).await?;
    }
    let admin_token = if store.count_tokens().await? == 0 {
        Some(create_first_token(store.as_ref(), bootstrap_token).await?)
    } else {
        None
    };
    let audit_root = crate::audit_root::start_audit_chains(store.as_ref(), &keys).await?;
    let service = SecretsService::with_options(store, keys, audit, options);
    let _ = service.inner.audit_root.set(audit_root);
    Ok(Bootstrap {
        service,
        admin_token,
    })
}

/// Which held key the store's key check was sealed under.
enum KeyCheck {
    Current,
    /// A previous key: the check (these bytes) moves to the current key once every
    /// secret has.
    Previous(Vec<u8>),
}

async fn check_master_key(store: &dyn Store, keys: &Keyring) -> Result<KeyCheck, ServiceError> {
    let key = keys.current();
    if let Some(sealed) = store.meta_get(KEY_CHECK).await? {
        if lumio_crypto::verify_key_check(key, &sealed).is_ok() {
            return Ok(KeyCheck::Current);
        }
        let opens = |old: &MasterKey| lumio_crypto::verify_key_check(old, &sealed).is_ok();
        if keys.previous().iter().any(opens) {
            return Ok(KeyCheck::Previous(sealed));
        }
        let expected = store.meta_get(KEY_ID).await?.unwrap_or_default();
        return Err(ServiceError::WrongMasterKey {
            given: key.id().to_string(),
            expected: String::from_utf8_lossy(&expected).into_owned(),
        });
    }
    // First start on this store: remember which key it belongs to.
    store
        .meta_put_if_absent(KEY_ID, key.id().to_string().as_bytes())
        .await?;
    if store
        .meta_put_if_absent(KEY_CHECK, &lumio_crypto::seal_key_check(key))
        .await?
    {
        return Ok(KeyCheck::Current);
    }
    // Another process initialised the store at the same moment; check against its key.
    let sealed = store.meta_get(KEY_CHECK).await?.unwrap_or_default();
    lumio_crypto::verify_key_check(key, &sealed)
        .map(|()| KeyCheck::Current)
        .map_err(|_| ServiceError::WrongMasterKey {
            given: key.id().to_string(),
            expected: "another key".to_owned(),
        })
}

/// With one key only, every stored version must be under it. The key check moves to the
/// new key last, so after an interrupted rotation the old key still passes it while some
/// versions are already under the new key: starting would fail those reads one by one.
async fn refuse_unfinished_rotation(store: &dyn Store, keys: &Keyring) -> Result<(), ServiceError> {
    let key = keys.current().id().to_string();
    if store.versions_not_under(&key, None, 1).await?.is_empty() {
        Ok(())
    } else {
        Err(ServiceError::UnfinishedRotation { key })
    }
}

/// Moves every secret to the current key, then the key check, in that order: until the
/// check moves, the store still asks for the previous key, so a restart with only the new
/// key cannot find secrets it cannot open.
async fn finish_rotation(
    store: &dyn Store,
    keys: &Keyring,
    check: KeyCheck,
) -> Result<(), ServiceError> {
    let report = rotate(store, keys).await?;
    let current = keys.current().id().to_string();
    if report.unreadable > 0 {
        tracing::error!(
            moved = report.moved,
            unreadable = report.unreadable,
            "master-key rotation incomplete: some secret versions could not be opened (see above); \
             keep passing the previous master key until they are purged or restored"
        );
        return Ok(());
    }
    // The audit root key too, before the key check moves: a start with only the new key
    // must be able to open it.
    crate::audit_root::reseal_audit_root(store, keys).await?;
    crate::webhooks::reseal_signing_secrets(store, keys).await?;
    let moved_check = matches!(check, KeyCheck::Previous(_));
    if let KeyCheck::Previous(old_check) = check {
        let new_check = lumio_crypto::seal_key_check(keys.current());
        // False if another server moved it first; either way it is under the current key.
        store
            .meta_replace(KEY_CHECK, &old_check, &new_check)
            .await?;
        if let Some(old_id) = store.meta_get(KEY_ID).await? {
            store
                .meta_replace(KEY_ID, &old_id, current.as_bytes())
                .await?;
        }
    }
    if report.moved > 0 || moved_check {
        tracing::info!(
            moved = report.moved,
            key_id = %current,
            "every secret is sealed under the current master key; the previous key is no longer needed"
        );
    }
    Ok(())
}

async fn create_first_token(
    store: &dyn Store,
    bootstrap_token: Option<&str>,
) -> Result<BootstrapToken, ServiceError> {
    match bootstrap_token {
        Some(token) => {
            store.insert_token(&bootstrap_record(token), &[]).await?;
            Ok(BootstrapToken::Provided)
        }
        None => {
            let issued = mint(Grant::Admin, "first admin".to_owned(), None);
            store.insert_token(&issued.record, &[]).await?;
            Ok(BootstrapToken::Generated(issued.token))
        }
    }
}
