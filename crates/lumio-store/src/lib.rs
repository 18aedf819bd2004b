//! Persistence for Lumio. One [`Store`] trait with a PostgreSQL and a SQLite
//! implementation that behave the same.
//!
//! Architecture Invariant: this crate never sees a plaintext secret value; it stores and
//! returns the sealed bytes made by `lumio-crypto` and knows nothing of their layout.

mod audit;
mod chain;
mod chain_queries;
mod deadline;
mod deployments;
mod dialect;
mod error;
mod feed;
mod invocation_logs;
mod model;
mod postgres;
mod retention;
mod rotation;
mod rows;
mod secrets;
mod sessions;
mod sqlite;
mod staff;
mod stamp;
mod store_impl;
#[cfg(feature = "testing")]
pub mod testing;
mod tokens;
mod webhooks;

pub use error::StoreError;
pub use feed::{follow, SyncedUpTo};
pub use invocation_logs::{
    LogPage, LogPosition, LogQuery, LogsPruned, NewInvocationLog, StoredInvocationLog,
};
pub use lumio_core::records::*;
pub use model::*;
pub use postgres::PgStore;
pub use sqlite::SqliteStore;
pub use webhooks::{
    AttemptResult, ChangeEvent, DeliveryRecord, DueDelivery, DueNotice, NextStep, WebhookRecord,
};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use lumio_core::{Environment, ExtensionSlug, SecretName};
use tokio::sync::broadcast;

/// Makes the audit records of a change from what the change created (an extension's id, a
/// deployment's version), so they can be written in the change's own transaction.
pub type RecordsOf<'a, T> = &'a (dyn Fn(&T) -> Vec<AuditRecord> + Sync);

/// How many versions of each secret are kept; older ones are pruned on write.
pub const KEPT_VERSIONS: i64 = 20;

/// How a store connects, beyond its URL.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Longest wait for a database connection (PostgreSQL's pool): while the database is
    /// unreachable, callers get an error within this, not after sqlx's default 30 s.
    pub connection_wait: std::time::Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            connection_wait: std::time::Duration::from_secs(4),
        }
    }
}

/// Opens the store a URL names: `postgres://…` / `postgresql://…`, or `sqlite://PATH`
/// (created if missing). Runs the migrations of that backend before returning.
pub async fn connect(url: &str) -> Result<std::sync::Arc<dyn Store>, StoreError> {
    connect_with(url, &StoreOptions::default()).await
}

/// [`connect`] with options.
pub async fn connect_with(
    url: &str,
    options: &StoreOptions,
) -> Result<std::sync::Arc<dyn Store>, StoreError> {
    match url.split_once("://") {
        Some(("postgres" | "postgresql", _)) => {
            let store = std::sync::Arc::new(PgStore::connect_with(url, options).await?);
            Ok(std::sync::Arc::new(deadline::Deadline::new(
                store,
                options.connection_wait,
            )))
        }
        Some(("sqlite", _)) => Ok(std::sync::Arc::new(SqliteStore::connect(url).await?)),
        _ => {
            // Only the scheme: the rest of a URL may hold a password.
            let scheme = url.split_once(':').map_or("", |(scheme, _)| scheme);
            Err(StoreError::UnsupportedUrl(
                scheme.chars().take(32).collect(),
            ))
        }
    }
}

/// Everything Lumio keeps. Implementations: `PgStore`, `SqliteStore`.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// `postgres` or `sqlite`, for logs.
    fn backend(&self) -> &'static str;

    // ---- instance metadata (key check, …) ----
    async fn meta_get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Writes `value` unless `key` exists. Returns whether it wrote.
    async fn meta_put_if_absent(&self, key: &str, value: &[u8]) -> Result<bool, StoreError>;
    /// Writes `value` under `key` only if it currently holds `expected`. Returns whether it wrote.
    async fn meta_replace(
        &self,
        key: &str,
        expected: &[u8],
        value: &[u8],
    ) -> Result<bool, StoreError>;

    // ---- dashboard sessions ----
    async fn insert_session(&self, session: &SessionRecord) -> Result<(), StoreError>;
    /// The session with this id hash, unless it expired by `now`.
    async fn find_session(
        &self,
        id_hash: &[u8; 32],
        now: DateTime<Utc>,
    ) -> Result<Option<SessionRecord>, StoreError>;
    async fn delete_session(&self, id_hash: &[u8; 32]) -> Result<(), StoreError>;
    /// Drops every session expired by `now`; returns how many.
    async fn delete_expired_sessions(&self, now: DateTime<Utc>) -> Result<u64, StoreError>;
    /// Leaves a one-time notice for the session's next page.
    async fn set_session_flash(&self, id_hash: &[u8; 32], flash: &str) -> Result<(), StoreError>;
    /// Clears the notice if it is still `flash`; true if this call cleared it (and so may
    /// show it).
    async fn take_session_flash(&self, id_hash: &[u8; 32], flash: &str)
        -> Result<bool, StoreError>;

    // ---- master-key rotation ----
    /// Up to `limit` stored versions (of any secret, live or deleted) whose key id is not
    /// `kek_id`, in primary-key order, starting after `after`.
    async fn versions_not_under(
        &self,
        kek_id: &str,
        after: Option<&VersionKey>,
        limit: i64,
    ) -> Result<Vec<StoredVersion>, StoreError>;
    /// Applies each reseal whose stored bytes are still its `previous`, in one
    /// transaction. Returns how many were applied.
    async fn apply_reseals(&self, reseals: &[Resealed]) -> Result<u64, StoreError>;

    // ---- extensions ----
    /// Creates the extension and writes the records `audit` makes of it in the same
    /// transaction. Fails with [`StoreError::Conflict`] when the slug exists.
    async fn create_extension(
        &self,
        slug: &ExtensionSlug,
        audit: RecordsOf<'_, Extension>,
    ) -> Result<Extension, StoreError>;
    async fn find_extension(&self, slug: &ExtensionSlug) -> Result<Option<Extension>, StoreError>;
    async fn list_extensions(&self) -> Result<Vec<Extension>, StoreError>;
    /// Stores a one-time claim code (its hash) for an extension, with `audit`.
    async fn insert_claim(
        &self,
        claim: &ClaimRecord,
        audit: &[AuditRecord],
    ) -> Result<(), StoreError>;
    /// The extension a stored claim code (used or not) is for.
    async fn claim_extension_id(&self, code_hash: &[u8; 32]) -> Result<Option<i64>, StoreError>;
    /// Redeems a claim code: in one transaction the code is marked used by `owner`, the
    /// extension claimed, the owner token stored and `audit`'s records written; or, when
    /// the code cannot be used, nothing changes and the outcome says why.
    async fn redeem_claim(
        &self,
        code_hash: &[u8; 32],
        owner: &TokenRecord,
        audit: RecordsOf<'_, Extension>,
    ) -> Result<ClaimOutcome, StoreError>;
    /// Suspends (`Some(at)`) or resumes (`None`) an extension, with `audit`; announced on
    /// the feed.
    async fn set_suspended(
        &self,
        extension_id: i64,
        at: Option<DateTime<Utc>>,
        audit: &[AuditRecord],
    ) -> Result<(), StoreError>;
    /// Removes an extension and everything of it (versions, deployments, tokens, audit
    /// log) in one transaction; `false` if it did not exist. Announced on the feed.
    async fn delete_extension(&self, extension_id: i64) -> Result<bool, StoreError>;

    // ---- staff support access ----
    async fn insert_access_request(
        &self,
        request: &AccessRequest,
        audit: &[AuditRecord],
    ) -> Result<(), StoreError>;
    /// Requests matching every filter given, newest first.
    async fn access_requests(
        &self,
        filter: AccessFilter<'_>,
    ) -> Result<Vec<AccessRequest>, StoreError>;
    /// Applies `change` if the request is still in the state it needs (`false` if not),
    /// with `audit` in the same transaction.
    async fn change_access_request(
        &self,
        id: &str,
        change: &AccessChange,
        audit: &[AuditRecord],
    ) -> Result<bool, StoreError>;

    // ---- secrets ----
    /// Writes new versions in one transaction, all or nothing. For each write the head's
    /// `latest_version` must still equal `expected_latest` (0 for a name never seen), else
    /// [`StoreError::VersionConflict`] and nothing is written. Each write becomes the
    /// current version; versions beyond the newest [`KEPT_VERSIONS`] are pruned. Fails with
    /// [`StoreError::TooManySecrets`] if the environment would hold more than `max_live`
    /// live secrets. `audit` commits with the writes or not at all
    /// ([`StoreError::AuditRefused`] when it is the audit insert that failed). Announces a
    /// [`Change`] for each name once committed.
    async fn write_versions(
        &self,
        extension_id: i64,
        environment: Environment,
        writes: &[NewVersion],
        max_live: usize,
        audit: &[AuditRecord],
    ) -> Result<(), StoreError>;
    /// The head of one secret, live or deleted; `None` if the name was never set (or purged).
    async fn head(
        &self,
        extension_id: i64,
        environment: Environment,
        name: &SecretName,
    ) -> Result<Option<SecretHead>, StoreError>;
    /// The heads of the given names that exist (any order).
    async fn heads(
        &self,
        extension_id: i64,
        environment: Environment,
        names: &[SecretName],
    ) -> Result<Vec<SecretHead>, StoreError>;
    /// The current version's sealed bytes and the secret's egress binding; `None` if
    /// unset or deleted.
    async fn current(
        &self,
        extension_id: i64,
        environment: Environment,
        name: &SecretName,
    ) -> Result<Option<CurrentSecret>, StoreError>;
    /// One kept version's sealed bytes; `None` if it was pruned or never existed.
    async fn version(
        &self,
        extension_id: i64,
        environment: Environment,
        name: &SecretName,
        version: i64,
    ) -> Result<Option<SealedVersion>, StoreError>;
    /// Live secrets (not deleted), ordered by name.
    async fn list_live(
        &self,
        extension_id: i64,
        environment: Environment,
    ) -> Result<Vec<SecretHead>, StoreError>;
    /// Kept versions, newest first, without their sealed bytes.
    async fn history(
        &self,
        extension_id: i64,
        environment: Environment,
        name: &SecretName,
    ) -> Result<Vec<VersionInfo>, StoreError>;
    /// Soft delete: the head loses its current version (unreadable at once), versions stay
    /// for rollback. With `purge`, the head and every version are destroyed. Returns false
    /// if there was nothing to delete (and then writes no `audit`). Announces a [`Change`].
    async fn delete_secret(
        &self,
        extension_id: i64,
        environment: Environment,
        name: &SecretName,
        actor: &str,
        purge: bool,
        audit: &[AuditRecord],
    ) -> Result<bool, StoreError>;

    /// Binds a live secret to `allowed_hosts` (`None`: unbound), a metadata change that
    /// writes no version, with `audit` in the same transaction. Returns false if no live
    /// secret has the name (and then writes no `audit`). Announces a [`Change`].
    async fn set_binding(
        &self,
        extension_id: i64,
        environment: Environment,
        name: &SecretName,
        allowed_hosts: Option<&lumio_core::AllowedHosts>,
        actor: &str,
        audit: &[AuditRecord],
    ) -> Result<bool, StoreError>;

    /// Changes a live secret's due dates (its current version's expiry, its rotation
    /// period) without a new version and without moving the rotation clock, with `audit`
    /// in the same transaction. Returns false if no live secret has the name (and then
    /// writes no `audit`). Announces a [`Change`].
    async fn set_due_dates(
        &self,
        extension_id: i64,
        environment: Environment,
        name: &SecretName,
        change: &DueDatesChange,
        actor: &str,
        audit: &[AuditRecord],
    ) -> Result<bool, StoreError>;
    /// Every live secret on the instance with an expiry or a rotation period, by
    /// extension id, environment and name: what reminders are sent from.
    async fn due_dates_all(&self) -> Result<Vec<DueSecret>, StoreError>;

    // ---- deployments ----
    /// Stores a new deployment as the next version (the active one from now on), with the
    /// records `audit` makes of it in the same transaction.
    async fn insert_deployment(
        &self,
        extension_id: i64,
        environment: Environment,
        files_json: &str,
        actions: &[String],
        actor: &str,
        audit: RecordsOf<'_, DeploymentRecord>,
    ) -> Result<DeploymentRecord, StoreError>;
    /// The newest deployment, if any.
    async fn active_deployment(
        &self,
        extension_id: i64,
        environment: Environment,
    ) -> Result<Option<DeploymentRecord>, StoreError> {
        Ok(self
            .list_deployments(extension_id, environment, 1)
            .await?
            .pop())
    }
    /// Deployments, newest first.
    async fn list_deployments(
        &self,
        extension_id: i64,
        environment: Environment,
        limit: i64,
    ) -> Result<Vec<DeploymentRecord>, StoreError>;

    // ---- tokens ----
    /// Stores a token, with `audit` in the same transaction.
    async fn insert_token(
        &self,
        token: &TokenRecord,
        audit: &[AuditRecord],
    ) -> Result<(), StoreError>;
    /// The live token with this id; `None` if there is none or it was revoked.
    async fn find_token(&self, id: &str) -> Result<Option<TokenRecord>, StoreError>;
    /// Every token ever made, revoked ones included (an empty store gets a first admin).
    async fn count_tokens(&self) -> Result<i64, StoreError>;
    /// Live tokens, of one extension or (`None`) of the whole instance, oldest first.
    async fn list_tokens(&self, extension_id: Option<i64>) -> Result<Vec<TokenRecord>, StoreError>;
    /// Revokes a live token, unless it is the last admin token without scope or expiry
    /// (checked atomically, so two admins revoking each other cannot both succeed). Once
    /// this returns, [`Store::find_token`] in every process no longer finds it. `audit` is
    /// written in the same transaction, and only if the token was revoked.
    async fn revoke_token(
        &self,
        id: &str,
        by: &str,
        at: DateTime<Utc>,
        audit: &[AuditRecord],
    ) -> Result<Revocation, StoreError>;
    /// Moves a token's `last_used_at` forward to `at` (never back).
    async fn touch_token(&self, id: &str, at: DateTime<Utc>) -> Result<(), StoreError>;

    // ---- audit ----
    /// Appends a batch durably in one transaction (multi-row insert or COPY): the group
    /// commit of records that pair with no change (reads, blocked leaks).
    async fn append_audit(&self, batch: &[AuditRecord]) -> Result<(), StoreError>;
    /// Newest first.
    async fn query_audit(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError>;
    /// Makes room for records stamped up to `until` (PostgreSQL: creates the daily
    /// partitions up to that day). A record stamped where no partition is would be
    /// refused, and with it the change it records; the server calls this ahead of time.
    async fn prepare_audit_log(&self, until: DateTime<Utc>) -> Result<(), StoreError>;
    /// Removes every record stamped before `cutoff` without blocking writers: whole days
    /// are detached and dropped (PostgreSQL), the rest deleted in small batches with a
    /// pause between them. Safe to run from several servers at once.
    async fn prune_audit(&self, cutoff: DateTime<Utc>) -> Result<AuditPruned, StoreError>;
    /// Seals the records still unsealed (management changes' records, records from
    /// before the chain) into their extensions' hash chains, under each chain's head lock
    /// in extension-id order; `Some`: only that extension's. Returns how many it sealed;
    /// finding none costs one index probe.
    async fn seal_audit(&self, extension_id: Option<i64>) -> Result<u64, StoreError>;
    /// Gives the store the audit root key its chains are linked with (the service loads
    /// it at start, sealed under the master key; the database never holds it in the
    /// clear). Until then nothing is sealed (records wait, unsealed) and verify refuses.
    fn set_audit_root(&self, root: lumio_core::AuditRootKey);
    /// Links every chain still in the first, unkeyed encoding (`lumio-audit-v1`) again
    /// under its key, one chain per transaction under its row lock, after checking it
    /// as it stood; each gets an `audit.chain_keyed` record saying what the check found.
    /// Returns the extensions upgraded and their v1 verdicts. Safe to run again.
    async fn key_audit_chains(
        &self,
        root: &lumio_core::AuditRootKey,
    ) -> Result<Vec<(i64, ChainVerdict)>, StoreError>;
    /// Seals the extension's pending records, then walks its chain from the anchor in
    /// one snapshot and reports the first record changed, removed or inserted.
    async fn verify_audit(&self, extension_id: i64) -> Result<ChainVerdict, StoreError>;
    /// An extension's records with their seq and hash, oldest (lowest id) first.
    async fn export_audit(&self, query: &ExportQuery) -> Result<Vec<ChainedEntry>, StoreError>;

    // ---- invocation logs ----
    /// Appends a batch of invocation logs in one transaction (multi-row inserts). Not
    /// the audit log: the caller may drop what it cannot write.
    async fn append_invocation_logs(&self, batch: &[NewInvocationLog]) -> Result<(), StoreError>;
    /// A page of one environment's invocation logs (see [`LogQuery`]); a follower that
    /// passes each page's cursor as the next `after` reads every invocation once, in
    /// commit order, whichever process wrote it.
    async fn invocation_logs(&self, query: &LogQuery<'_>) -> Result<LogPage, StoreError>;
    /// Removes invocation logs stamped before `cutoff`, and each extension and
    /// environment's beyond its newest `keep`, in small batches.
    async fn prune_invocation_logs(
        &self,
        cutoff: DateTime<Utc>,
        keep: i64,
    ) -> Result<LogsPruned, StoreError>;

    /// Adds a webhook receiver, with its audit record, in one transaction.
    async fn insert_webhook(
        &self,
        hook: &WebhookRecord,
        audit: &[AuditRecord],
    ) -> Result<(), StoreError>;
    /// Live receivers: of one extension, or of all.
    async fn webhooks(&self, extension_id: Option<i64>) -> Result<Vec<WebhookRecord>, StoreError>;
    /// Removes a receiver and cancels what it was still owed; false if there was none.
    async fn remove_webhook(
        &self,
        extension_id: i64,
        id: &str,
        at: DateTime<Utc>,
        audit: &[AuditRecord],
    ) -> Result<bool, StoreError>;
    /// Replaces a receiver's sealed signing secret if it is still `old` (master-key
    /// rotation); false if it changed or is gone.
    async fn reseal_webhook(
        &self,
        id: &str,
        old: &[u8],
        sealed: &[u8],
        kek_id: &str,
    ) -> Result<bool, StoreError>;
    /// Removes finished deliveries made before `cutoff`, the events and removed receivers
    /// they leave behind; how many rows.
    async fn prune_webhook_deliveries(&self, cutoff: DateTime<Utc>) -> Result<u64, StoreError>;
    /// Records a due-date notice with its audit record (which makes its event), unless it
    /// was sent already; whether it is new.
    async fn record_notice(
        &self,
        notice: &DueNotice,
        audit: &[AuditRecord],
    ) -> Result<bool, StoreError>;
    /// Takes (or renews) the named lease until `until` unless another holder's is still
    /// running at `now`.
    async fn take_lease(
        &self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError>;
    /// Turns committed outbox events into deliveries, in commit order; how many events.
    async fn fan_out_events(&self, now: DateTime<Utc>) -> Result<u64, StoreError>;
    /// Each receiver's oldest pending delivery (of `webhook` only, if given), if due by `now`.
    async fn due_deliveries(
        &self,
        now: DateTime<Utc>,
        limit: i64,
        webhook: Option<&str>,
    ) -> Result<Vec<DueDelivery>, StoreError>;
    /// Notes an attempt's outcome, with its audit record, in one transaction.
    async fn record_attempt(
        &self,
        result: &AttemptResult,
        audit: &[AuditRecord],
    ) -> Result<(), StoreError>;
    /// An extension's deliveries, newest first; with `failed_only`, those not delivered
    /// that failed at least once.
    async fn deliveries(
        &self,
        extension_id: i64,
        failed_only: bool,
        limit: i64,
    ) -> Result<Vec<DeliveryRecord>, StoreError>;
    /// Queues a finished delivery again; false if there is no such finished delivery.
    async fn redeliver(
        &self,
        extension_id: i64,
        delivery_id: i64,
        now: DateTime<Utc>,
        audit: &[AuditRecord],
    ) -> Result<bool, StoreError>;

    // ---- change feed ----
    /// Secret changes made through this store or, on PostgreSQL, any process sharing the
    /// database (LISTEN/NOTIFY). After a lost connection, [`Change::Everything`] is sent.
    fn subscribe(&self) -> broadcast::Receiver<Change>;

    /// Asks for a [`Change::Synced`] marker on the feed, to know when every change
    /// committed by other processes before this call has arrived. `None` when the feed is
    /// complete at every moment (SQLite: one process, announced at commit), or when no
    /// marker can come back (the feed's connection is down; see [`Store::feed_connected`]).
    fn sync_marker(&self) -> Option<u64> {
        None
    }

    /// False while the change feed has lost its connection to the database (which then is
    /// most likely unreachable): callers answer from their caches rather than wait on it.
    fn feed_connected(&self) -> bool {
        true
    }

    /// The connection pool's state, for metrics; `None` where there is no pool to report
    /// (SQLite's single writer).
    fn pool_usage(&self) -> Option<PoolUsage> {
        None
    }

    /// A change may have committed without this process learning whether (its call ran
    /// out of time): every process drops its caches, as for [`Change::Everything`].
    fn changes_unknown(&self) {}
}
