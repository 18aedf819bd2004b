//! Start-up checks: the master key matches the store, and an empty store gets its first
//! instance-admin token.

use std::sync::Arc;

use lumio_audit::AuditWriter;
use lumio_crypto::MasterKey;
use lumio_store::{Grant, Store};
use zeroize::Zeroizing;

use crate::tokens::{bootstrap_record, mint};
use crate::{SecretsService, ServiceError};

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

/// Opens the service on `store`: refuses a master key other than the one the store was
/// created with, and on an empty store creates the first admin token (`bootstrap_token`
/// if given, else a generated one).
pub async fn open_service(
    store: Arc<dyn Store>,
    key: MasterKey,
    audit: AuditWriter,
    bootstrap_token: Option<&str>,
) -> Result<Bootstrap, ServiceError> {
    check_master_key(store.as_ref(), &key).await?;
    let admin_token = if store.count_tokens().await? == 0 {
        Some(create_first_token(store.as_ref(), bootstrap_token).await?)
    } else {
        None
    };
    Ok(Bootstrap {
        service: SecretsService::new(store, key, audit),
        admin_token,
    })
}

async fn check_master_key(store: &dyn Store, key: &MasterKey) -> Result<(), ServiceError> {
    if let Some(sealed) = store.meta_get(KEY_CHECK).await? {
        if lumio_crypto::verify_key_check(key, &sealed).is_ok() {
            return Ok(());
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
        return Ok(());
    }
    // Another process initialised the store at the same moment; check against its key.
    let sealed = store.meta_get(KEY_CHECK).await?.unwrap_or_default();
    lumio_crypto::verify_key_check(key, &sealed).map_err(|_| ServiceError::WrongMasterKey {
        given: key.id().to_string(),
        expected: "another key".to_owned(),
    })
}

async fn create_first_token(
    store: &dyn Store,
    bootstrap_token: Option<&str>,
) -> Result<BootstrapToken, ServiceError> {
    match bootstrap_token {
        Some(token) => {
            store.insert_token(&bootstrap_record(token)).await?;
            Ok(BootstrapToken::Provided)
        }
        None => {
            let issued = mint(Grant::Admin, "first admin".to_owned(), None);
            store.insert_token(&issued.record).await?;
            Ok(BootstrapToken::Generated(issued.token))
        }
    }
}
