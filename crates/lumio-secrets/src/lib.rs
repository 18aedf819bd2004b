//! The secrets service: everything a user can do with secrets and tokens, with access
//! checks and an audit record for every change. The HTTP layer is a thin shell over it,
//! and the action runtime reads through [`SecretsService::get`].
//!
//! Architecture Invariant: plaintext exists here only inside [`SecretValue`]; what goes to
//! the store is sealed by `lumio-crypto` first, and nothing returned to a management caller
//! holds a value.

mod access;
mod audit_log;
mod audit_root;
mod bindings;
mod bootstrap;
mod cache;
mod clock;
mod deployments;
mod due_dates;
mod error;
mod extensions;
mod keyring;
mod last_used;
mod master_rotation;
mod notices;
mod operations;
mod parity;
mod read;
mod rotation;
mod secrets;
mod sessions;
mod staff;
mod token_admin;
mod tokens;
mod unseal;
mod version_hints;
mod webhooks;
mod write_turns;

pub use access::Principal;
pub use audit_log::{AuditFilter, ExportFilter, MAX_AUDIT_PAGE, MAX_EXPORT_PAGE};
pub use audit_root::{load_audit_root, reseal_audit_root, AUDIT_ROOT_META, AUDIT_ROOT_PLACE};
pub use bootstrap::{open_service, open_service_with, Bootstrap, BootstrapToken};
pub use clock::Clock;
pub use due_dates::{stamp, DueChange, DueOnSet, Expiry};
pub use error::ServiceError;
pub use extensions::change_record;
pub use last_used::WRITE_EVERY as LAST_USED_WRITE_EVERY;
pub use lumio_core::{ErrorKind, SecretValue};
pub use lumio_store::{DeliveryRecord, DueDelivery};
pub use master_rotation::MasterKeyStatus;
pub use parity::{CopyReport, CopySelection, EnvironmentDiff};
pub use read::{ReadCount, Reader, SecretRead};
pub use rotation::{rotate, RotationReport};
pub use secrets::{ImportedSecret, SecretHistory, SecretSummary, SetOptions};
pub use sessions::Sessions;
pub use staff::{ClaimCode, Claimed, DEFAULT_CLAIM_LIFETIME, MAX_REASON, MAX_SUPPORT};
pub use token_admin::{TokenFor, TokenRequest, TokenSummary};
pub use tokens::{check_bootstrap_token, IssuedToken, MAX_TOKEN_LEN, MIN_TOKEN_LEN};
pub use unseal::{
    check_unwrapped_id, load_keyring, set_up_with, FileUnseal, UnsealError, UnsealKey,
};
pub use webhooks::{
    url_host, AddedWebhook, ChangeEvent, NextStep, WebhookRecord, WebhookSummary, WebhookTarget,
    MAX_DELIVERIES_PAGE,
};

/// Opening the database, for the process that starts the service (`lumio-server`): it
/// only hands the store on, to the keyring's loader, the audit writer and
/// [`open_service`]; the `Store` trait, and so every query, stays out of its reach.
pub use lumio_store::{connect_with, StoreOptions};

/// The records the service answers with: `lumio-core`'s plain data, which the store fills
/// and which leads nowhere back into it. Callers name them from here.
pub use lumio_core::records::{
    AccessRequest, AuditEntry, AuditPruned, AuditRecord, ChainBreak, ChainVerdict, ChainedEntry,
    Change, DeploymentRecord, DueSecret, Extension, Grant, PoolUsage, SecretHead, SessionRecord,
    Tamper,
};

use std::sync::Arc;

use lumio_audit::AuditWriter;
use lumio_crypto::Keyring;
use lumio_store::Store;

/// What a service may be given beyond its store, keys and audit writer.
#[derive(Debug, Clone, Default)]
pub struct ServiceOptions {
    /// Where expiry (tokens, claim codes, support grants, dashboard sessions) and audit
    /// retention read the time: the system clock unless a test gives another.
    pub clock: Clock,
}

/// Who is acting and under which request, for the audit log.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub principal: Principal,
    pub request_id: String,
}

/// The service. Cheap to clone; share one per process.
#[derive(Clone)]
pub struct SecretsService {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    /// Swapped whole when an online rotation adds a key (`keyring.rs`); readers clone the
    /// `Arc` and keep the ring they started with.
    keys: std::sync::RwLock<Arc<Keyring>>,
    /// What wraps the keyring's keys; without it (a bare service in a test) the keyring
    /// never changes.
    unseal: std::sync::OnceLock<Arc<dyn UnsealKey>>,
    audit: AuditWriter,
    cache: Arc<cache::Caches>,
    versions: version_hints::VersionHints,
    turns: write_turns::WriteTurns,
    last_used: last_used::LastUsed,
    /// The key audit chain keys derive from, once [`open_service`] loaded it.
    audit_root: std::sync::OnceLock<lumio_core::AuditRootKey>,
    clock: Clock,
}

impl SecretsService {
    /// Builds the service and starts the task that applies the store's change feed to the
    /// caches. Use [`open_service`] to also check the master key and bootstrap tokens.
    pub fn new(store: Arc<dyn Store>, keys: Keyring, audit: AuditWriter) -> Self {
        Self::with_options(store, keys, audit, ServiceOptions::default())
    }

    /// [`SecretsService::new`] with `options` (say, a test's clock).
    pub fn with_options(
        store: Arc<dyn Store>,
        keys: Keyring,
        audit: AuditWriter,
        options: ServiceOptions,
    ) -> Self {
        let cache = Arc::new(cache::Caches::default());
        cache.follow(store.subscribe());
        Self {
            inner: Arc::new(Inner {
                store,
                keys: std::sync::RwLock::new(Arc::new(keys)),
                unseal: std::sync::OnceLock::new(),
                audit,
                cache,
                versions: version_hints::VersionHints::default(),
                turns: write_turns::WriteTurns::default(),
                last_used: last_used::LastUsed::default(),
                audit_root: std::sync::OnceLock::new(),
                clock: options.clock,
            }),
        }
    }

    pub fn audit(&self) -> &AuditWriter {
        &self.inner.audit
    }

    /// The clock expiry and retention read.
    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    /// Now, by the service's clock.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.inner.clock.now()
    }

    /// Now by the service's clock, at the microsecond precision both stores keep.
    pub(crate) fn now_micros(&self) -> chrono::DateTime<chrono::Utc> {
        self.inner.clock.now_micros()
    }
}
