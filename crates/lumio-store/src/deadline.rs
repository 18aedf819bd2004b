//! Every request-path round trip to the database bounded in time.
//!
//! A database that stops answering without closing its connections (a network black hole,
//! a failover behind a virtual IP) leaves a query waiting for bytes that never come: sqlx
//! sets no TCP keepalive and has no statement deadline of its own. [`Deadline`] wraps a
//! store so each call made on a caller's behalf gives up after the connection wait
//! (`--db-timeout`) and says so. Dropping the call's future drops its connection's work:
//! sqlx pings a connection before reusing it, so one that went silent is not handed out
//! again until it answers.
//!
//! A write that ran out of time may still have committed. The caller is told its outcome
//! is unknown and, for a change processes cache, every process drops its caches
//! ([`Store::changes_unknown`]), so a change that did commit is not hidden behind a cached
//! value.
//!
//! Long maintenance work (sealing, retention, verifying and exporting a chain, re-sealing
//! for a key rotation) and the audit writer's batches, which have their own stall timeout,
//! are not bounded here.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use lumio_core::{Environment, ExtensionSlug, SecretName};
use tokio::sync::broadcast;

use crate::{
    AccessChange, AccessFilter, AccessRequest, AttemptResult, AuditEntry, AuditPruned, AuditQuery,
    AuditRecord, ChainVerdict, ChainedEntry, Change, ClaimOutcome, ClaimRecord, CurrentSecret,
    DeliveryRecord, DeploymentRecord, DueDatesChange, DueDelivery, DueNotice, DueSecret,
    ExportQuery, Extension, LogPage, LogQuery, LogsPruned, NewInvocationLog, NewVersion, PoolUsage,
    RecordsOf, Resealed, Revocation, SealedVersion, SecretHead, SessionRecord, Store, StoreError,
    StoredVersion, TokenRecord, VersionInfo, VersionKey, WebhookRecord,
};

/// A store whose request-path calls give up after `wait`.
pub struct Deadline {
    inner: Arc<dyn Store>,
    wait: Duration,
}

impl Deadline {
    pub fn new(inner: Arc<dyn Store>, wait: Duration) -> Self {
        Self { inner, wait }
    }

    /// `call`, or `NoAnswer` once `wait` has passed (a write's outcome is then unknown).
    async fn bounded<T>(
        &self,
        call: impl Future<Output = Result<T, StoreError>>,
        is_write: bool,
    ) -> Result<T, StoreError> {
        tokio::time::timeout(self.wait, call)
            .await
            .unwrap_or_else(|_| Err(self.silent(is_write)))
    }

    /// A write of something processes cache (a secret, a deployment, an extension, a token).
    async fn change<T>(
        &self,
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let result = self.bounded(call, true).await;
        if let Err(StoreError::NoAnswer { .. }) = result {
            self.inner.changes_unknown();
        }
        result
    }

    fn silent(&self, outcome_unknown: bool) -> StoreError {
        tracing::warn!(waited = ?self.wait, outcome_unknown, "the database did not answer in time");
        StoreError::NoAnswer {
            waited: self.wait,
            outcome_unknown,
        }
    }
}

/// The delegating methods: `read`, `write` and `change` ones are bounded (a write that runs
/// out of time has an unknown outcome; a `change` is of something processes cache),
/// `unbounded` ones are passed through as they are.
macro_rules! delegate {
    ($( $kind:ident fn $name:ident(&self $(, $arg:ident : $ty:ty)* ) -> $ret:ty; )*) => {
        #[async_trait]
        impl Store for Deadline {
            $(
                async fn $name(&self $(, $arg: $ty)*) -> Result<$ret, StoreError> {
                    delegate!(@call $kind, self, self.inner.$name($($arg),*))
                }
            )*

            fn backend(&self) -> &'static str {
                self.inner.backend()
            }
            fn set_audit_root(&self, root: lumio_core::AuditRootKey) {
                self.inner.set_audit_root(root)
            }
            fn subscribe(&self) -> broadcast::Receiver<Change> {
                self.inner.subscribe()
            }
            fn sync_marker(&self) -> Option<u64> {
                self.inner.sync_marker()
            }
            fn feed_connected(&self) -> bool {
                self.inner.feed_connected()
            }
            fn pool_usage(&self) -> Option<PoolUsage> {
                self.inner.pool_usage()
            }
            fn changes_unknown(&self) {
                self.inner.changes_unknown()
            }
        }
    };
    (@call read, $self:ident, $call:expr) => { $self.bounded($call, false).await };
    (@call write, $self:ident, $call:expr) => { $self.bounded($call, true).await };
    (@call change, $self:ident, $call:expr) => { $self.change($call).await };
    (@call unbounded, $self:ident, $call:expr) => { $call.await };
}

delegate! {
    read fn meta_get(&self, key: &str) -> Option<Vec<u8>>;
    write fn meta_put_if_absent(&self, key: &str, value: &[u8]) -> bool;
    write fn meta_replace(&self, key: &str, expected: &[u8], value: &[u8]) -> bool;

    write fn insert_session(&self, session: &SessionRecord) -> ();
    read fn find_session(&self, id_hash: &[u8; 32], now: DateTime<Utc>) -> Option<SessionRecord>;
    write fn delete_session(&self, id_hash: &[u8; 32]) -> ();
    write fn delete_expired_sessions(&self, now: DateTime<Utc>) -> u64;
    write fn set_session_flash(&self, id_hash: &[u8; 32], flash: &str) -> ();
    write fn take_session_flash(&self, id_hash: &[u8; 32], flash: &str) -> bool;

    unbounded fn versions_not_under(&self, kek_id: &str, after: Option<&VersionKey>, limit: i64) -> Vec<StoredVersion>;
    unbounded fn apply_reseals(&self, reseals: &[Resealed]) -> u64;

    change fn create_extension(&self, slug: &ExtensionSlug, audit: RecordsOf<'_, Extension>) -> Extension;
    read fn find_extension(&self, slug: &ExtensionSlug) -> Option<Extension>;
    read fn list_extensions(&self) -> Vec<Extension>;
    write fn insert_claim(&self, claim: &ClaimRecord, audit: &[AuditRecord]) -> ();
    read fn claim_extension_id(&self, code_hash: &[u8; 32]) -> Option<i64>;
    change fn redeem_claim(&self, code_hash: &[u8; 32], owner: &TokenRecord, audit: RecordsOf<'_, Extension>) -> ClaimOutcome;
    change fn set_suspended(&self, extension_id: i64, at: Option<DateTime<Utc>>, audit: &[AuditRecord]) -> ();
    change fn delete_extension(&self, extension_id: i64) -> bool;

    write fn insert_access_request(&self, request: &AccessRequest, audit: &[AuditRecord]) -> ();
    read fn access_requests(&self, filter: AccessFilter<'_>) -> Vec<AccessRequest>;
    write fn change_access_request(&self, id: &str, change: &AccessChange, audit: &[AuditRecord]) -> bool;

    change fn write_versions(&self, extension_id: i64, environment: Environment, writes: &[NewVersion], max_live: usize, audit: &[AuditRecord]) -> ();
    read fn head(&self, extension_id: i64, environment: Environment, name: &SecretName) -> Option<SecretHead>;
    read fn heads(&self, extension_id: i64, environment: Environment, names: &[SecretName]) -> Vec<SecretHead>;
    read fn current(&self, extension_id: i64, environment: Environment, name: &SecretName) -> Option<CurrentSecret>;
    read fn version(&self, extension_id: i64, environment: Environment, name: &SecretName, version: i64) -> Option<SealedVersion>;
    read fn list_live(&self, extension_id: i64, environment: Environment) -> Vec<SecretHead>;
    read fn history(&self, extension_id: i64, environment: Environment, name: &SecretName) -> Vec<VersionInfo>;
    change fn delete_secret(&self, extension_id: i64, environment: Environment, name: &SecretName, actor: &str, purge: bool, audit: &[AuditRecord]) -> bool;
    change fn set_binding(&self, extension_id: i64, environment: Environment, name: &SecretName, allowed_hosts: Option<&lumio_core::AllowedHosts>, actor: &str, audit: &[AuditRecord]) -> bool;
    change fn set_due_dates(&self, extension_id: i64, environment: Environment, name: &SecretName, change: &DueDatesChange, actor: &str, audit: &[AuditRecord]) -> bool;
    read fn due_dates_all(&self) -> Vec<DueSecret>;

    change fn insert_deployment(&self, extension_id: i64, environment: Environment, files_json: &str, actions: &[String], actor: &str, audit: RecordsOf<'_, DeploymentRecord>) -> DeploymentRecord;
    read fn active_deployment(&self, extension_id: i64, environment: Environment) -> Option<DeploymentRecord>;
    read fn list_deployments(&self, extension_id: i64, environment: Environment, limit: i64) -> Vec<DeploymentRecord>;

    change fn insert_token(&self, token: &TokenRecord, audit: &[AuditRecord]) -> ();
    read fn find_token(&self, id: &str) -> Option<TokenRecord>;
    read fn count_tokens(&self) -> i64;
    read fn list_tokens(&self, extension_id: Option<i64>) -> Vec<TokenRecord>;
    change fn revoke_token(&self, id: &str, by: &str, at: DateTime<Utc>, audit: &[AuditRecord]) -> Revocation;
    write fn touch_token(&self, id: &str, at: DateTime<Utc>) -> ();

    unbounded fn append_audit(&self, batch: &[AuditRecord]) -> ();
    read fn query_audit(&self, query: &AuditQuery) -> Vec<AuditEntry>;
    unbounded fn prepare_audit_log(&self, until: DateTime<Utc>) -> ();
    unbounded fn prune_audit(&self, cutoff: DateTime<Utc>) -> AuditPruned;
    unbounded fn seal_audit(&self, extension_id: Option<i64>) -> u64;
    unbounded fn key_audit_chains(&self, root: &lumio_core::AuditRootKey) -> Vec<(i64, ChainVerdict)>;
    unbounded fn verify_audit(&self, extension_id: i64) -> ChainVerdict;
    unbounded fn export_audit(&self, query: &ExportQuery) -> Vec<ChainedEntry>;

    write fn append_invocation_logs(&self, batch: &[NewInvocationLog]) -> ();
    read fn invocation_logs(&self, query: &LogQuery<'_>) -> LogPage;
    unbounded fn prune_invocation_logs(&self, cutoff: DateTime<Utc>, keep: i64) -> LogsPruned;

    write fn insert_webhook(&self, hook: &WebhookRecord, audit: &[AuditRecord]) -> ();
    read fn webhooks(&self, extension_id: Option<i64>) -> Vec<WebhookRecord>;
    write fn remove_webhook(&self, extension_id: i64, id: &str, at: DateTime<Utc>, audit: &[AuditRecord]) -> bool;
    unbounded fn reseal_webhook(&self, id: &str, old: &[u8], sealed: &[u8], kek_id: &str) -> bool;
    unbounded fn prune_webhook_deliveries(&self, cutoff: DateTime<Utc>) -> u64;
    write fn record_notice(&self, notice: &DueNotice, audit: &[AuditRecord]) -> bool;
    write fn take_lease(&self, name: &str, holder: &str, now: DateTime<Utc>, until: DateTime<Utc>) -> bool;
    write fn release_lease(&self, name: &str, holder: &str) -> ();
    write fn fan_out_events(&self, now: DateTime<Utc>) -> u64;
    read fn due_deliveries(&self, now: DateTime<Utc>, limit: i64, webhook: Option<&str>) -> Vec<DueDelivery>;
    write fn record_attempt(&self, result: &AttemptResult, audit: &[AuditRecord]) -> ();
    read fn deliveries(&self, extension_id: i64, failed_only: bool, limit: i64) -> Vec<DeliveryRecord>;
    write fn redeliver(&self, extension_id: i64, delivery_id: i64, now: DateTime<Utc>, audit: &[AuditRecord]) -> bool;
}
