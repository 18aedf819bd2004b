//! The PostgreSQL store: production. Other processes sharing the database learn of
//! changes through LISTEN/NOTIFY on the `lumio_changes` channel.

mod audit;
mod chain;
mod copy_binary;
mod deployments;
mod first_contact;
mod notify;
mod retention;
mod secrets;
mod tokens;
mod write;

use std::str::FromStr;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use lumio_core::{Environment, ExtensionSlug, SecretName};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use crate::feed::Feed;
use crate::{rotation, rows, sessions, staff};
use crate::{
    AccessChange, AccessFilter, AccessRequest, AuditEntry, AuditPruned, AuditQuery, AuditRecord,
    ChainVerdict, ChainedEntry, Change, ClaimOutcome, ClaimRecord, CurrentSecret, DeploymentRecord,
    ExportQuery, Extension, NewVersion, RecordsOf, Resealed, Revocation, SealedVersion, SecretHead,
    SessionRecord, Store, StoreError, StoredVersion, TokenRecord, VersionInfo, VersionKey,
};

/// Enough connections for group commit to batch many concurrent writers into one WAL
/// flush, few enough to leave room on a default `max_connections = 100` server.
const POOL_SIZE: u32 = 16;
/// Longest wait for PostgreSQL to take a change notification before a write returns.
const NOTIFY_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// A [`Store`] on PostgreSQL.
pub struct PgStore {
    pool: PgPool,
    feed: Feed,
    notifier: notify::Notifier,
    listener: JoinHandle<()>,
    listening: notify::Listening,
    /// Extensions known to have their audit chain row (rows are never deleted).
    chain_heads: std::sync::Mutex<std::collections::HashSet<i64>>,
    /// The key the audit chains are linked with, once the service gave it.
    audit_root: crate::chain::RootSlot,
}

impl PgStore {
    /// Connects, runs the migrations, and starts LISTENing for other processes' changes
    /// before returning, so no change committed after this returns is missed.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, &crate::StoreOptions::default()).await
    }

    /// [`Self::connect`] with options (how long a caller waits for a connection).
    pub async fn connect_with(
        url: &str,
        store_options: &crate::StoreOptions,
    ) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url)?.application_name("lumio");
        first_contact::check(&options, store_options.connection_wait).await?;
        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .acquire_timeout(store_options.connection_wait)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;

        let feed = Feed::new();
        let origin = notify::Origin::random();
        let echoes = notify::Echoes::default();
        let listening = notify::Listening::default();
        let listener = notify::listen(
            &options,
            feed.clone(),
            origin,
            echoes.clone(),
            listening.clone(),
        )
        .await?;
        let notifier = notify::Notifier::start(&options, origin, echoes);
        // A previous run of this process may have died between a commit and its
        // notification; peers drop their caches once so they cannot keep a stale value.
        notifier.everything();
        Ok(Self {
            pool,
            feed,
            notifier,
            listener,
            listening,
            chain_heads: Default::default(),
            audit_root: Default::default(),
        })
    }

    /// Tells this process (at once) and every other process (via NOTIFY) about changes,
    /// returning once PostgreSQL has delivered the notifications back to this process's
    /// own listener, so the caller's next read through another process sees the change.
    async fn announce<'a>(
        &self,
        extension_id: i64,
        environment: Environment,
        names: impl IntoIterator<Item = &'a str>,
    ) {
        let mut sent = Vec::new();
        for name in names {
            self.feed.secret(extension_id, environment, name);
            sent.push(self.notifier.secret(extension_id, environment, name));
        }
        confirmed(sent).await;
    }

    /// [`Self::announce`] for a deployment that became the active one.
    async fn announce_deployment(&self, extension_id: i64, environment: Environment) {
        self.feed.deployment(extension_id, environment);
        confirmed(vec![self.notifier.deployment(extension_id, environment)]).await;
    }
}

/// Waits until this process's listener heard each notification back.
async fn confirmed(sent: Vec<tokio::sync::oneshot::Receiver<()>>) {
    for done in sent {
        // Bounded: a database that stopped answering must not hang writes forever;
        // its listeners lose their connection and drop their caches anyway.
        if tokio::time::timeout(NOTIFY_WAIT, done).await.is_err() {
            tracing::warn!("change notification not confirmed in time; other servers may briefly serve a cached value");
            break;
        }
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        // The notifier stops by itself once its queue is drained and closed.
        self.listener.abort();
    }
}

sessions::session_queries!(PgStore, pool, pool);
staff::staff_queries!(
    PgStore,
    pool,
    DateTime<Utc>,
    std::convert::identity,
    stored_time,
    audit::insert_change_records
);

/// PostgreSQL keeps `timestamptz` as the time itself.
fn stored_time(at: DateTime<Utc>) -> Result<DateTime<Utc>, StoreError> {
    Ok(at)
}

impl PgStore {
    async fn begin_write(&self) -> Result<sqlx::Transaction<'_, sqlx::Postgres>, StoreError> {
        Ok(self.pool.begin().await?)
    }

    /// Tells this process and, once PostgreSQL delivered it, every other one.
    async fn announce_extension(&self, extension_id: i64) {
        self.feed.send(Change::Extension { extension_id });
        confirmed(vec![self.notifier.extension(extension_id)]).await;
    }
}
rotation::rotation_queries!(PgStore, pool, pool);

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn meta_get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let value = sqlx::query_scalar("SELECT value FROM lumio_meta WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(value)
    }

    async fn meta_put_if_absent(&self, key: &str, value: &[u8]) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO lumio_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(value)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn insert_session(&self, session: &SessionRecord) -> Result<(), StoreError> {
        self.session_insert(session).await
    }

    async fn find_session(
        &self,
        id_hash: &[u8; 32],
        now: DateTime<Utc>,
    ) -> Result<Option<SessionRecord>, StoreError> {
        self.session_find(id_hash, now).await
    }

    async fn delete_session(&self, id_hash: &[u8; 32]) -> Result<(), StoreError> {
        self.session_delete(id_hash).await
    }

    async fn delete_expired_sessions(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        self.session_delete_expired(now).await
    }

    async fn set_session_flash(&self, id_hash: &[u8; 32], flash: &str) -> Result<(), StoreError> {
        self.session_flash(id_hash, flash, false).await.map(drop)
    }

    async fn take_session_flash(
        &self,
        id_hash: &[u8; 32],
        flash: &str,
    ) -> Result<bool, StoreError> {
        self.session_flash(id_hash, flash, true).await
    }

    async fn meta_replace(
        &self,
        key: &str,
        expected: &[u8],
        value: &[u8],
    ) -> Result<bool, StoreError> {
        self.replace_meta(key, expected, value).await
    }

    async fn versions_not_under(
        &self,
        kek_id: &str,
        after: Option<&VersionKey>,
        limit: i64,
    ) -> Result<Vec<StoredVersion>, StoreError> {
        self.select_versions_not_under(kek_id, after, limit).await
    }

    async fn apply_reseals(&self, reseals: &[Resealed]) -> Result<u64, StoreError> {
        self.swap_reseals(reseals).await
    }

    async fn create_extension(
        &self,
        slug: &ExtensionSlug,
        audit: RecordsOf<'_, Extension>,
    ) -> Result<Extension, StoreError> {
        let created_at = rows::now();
        let mut tx = self.pool.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO extensions (slug, created_at) VALUES ($1, $2) RETURNING id",
        )
        .bind(slug.as_str())
        .bind(created_at)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| rows::conflict_or(e, || format!("extension {slug}")))?;
        let extension = Extension {
            id,
            slug: slug.clone(),
            created_at,
            claimed_at: None,
            claimed_by: None,
            suspended_at: None,
        };
        audit::insert_change_records(&mut tx, &audit(&extension)).await?;
        tx.commit().await?;
        Ok(extension)
    }

    async fn find_extension(&self, slug: &ExtensionSlug) -> Result<Option<Extension>, StoreError> {
        Ok(self.extension_rows(Some(slug), None).await?.pop())
    }

    async fn list_extensions(&self) -> Result<Vec<Extension>, StoreError> {
        self.extension_rows(None, None).await
    }

    async fn insert_claim(
        &self,
        claim: &ClaimRecord,
        audit: &[AuditRecord],
    ) -> Result<(), StoreError> {
        self.claim_insert(claim, audit).await
    }

    async fn claim_extension_id(&self, code_hash: &[u8; 32]) -> Result<Option<i64>, StoreError> {
        self.claim_target(code_hash).await
    }

    async fn redeem_claim(
        &self,
        code_hash: &[u8; 32],
        owner: &TokenRecord,
        audit: RecordsOf<'_, Extension>,
    ) -> Result<ClaimOutcome, StoreError> {
        self.claim_redeem(code_hash, owner, audit).await
    }

    async fn set_suspended(
        &self,
        extension_id: i64,
        at: Option<DateTime<Utc>>,
        audit: &[AuditRecord],
    ) -> Result<(), StoreError> {
        self.suspension_set(extension_id, at, audit).await
    }

    async fn delete_extension(&self, extension_id: i64) -> Result<bool, StoreError> {
        self.extension_delete(extension_id).await
    }

    async fn insert_access_request(
        &self,
        request: &AccessRequest,
        audit: &[AuditRecord],
    ) -> Result<(), StoreError> {
        self.access_insert(request, audit).await
    }

    async fn access_requests(
        &self,
        filter: AccessFilter<'_>,
    ) -> Result<Vec<AccessRequest>, StoreError> {
        self.access_select(filter).await
    }

    async fn change_access_request(
        &self,
        id: &str,
        change: &AccessChange,
        audit: &[AuditRecord],
    ) -> Result<bool, StoreError> {
        self.access_change(id, change, audit).await
    }

    async fn write_versions(
        &self,
        extension_id: i64,
        environment: Environment,
        writes: &[NewVersion],
        max_live: usize,
        audit: &[AuditRecord],
    ) -> Result<(), StoreError> {
        self.write(extension_id, environment, writes, max_live, audit)
            .await?;
        self.announce(
            extension_id,
            environment,
            writes.iter().map(|w| w.name.as_str()),
        )
        .await;
        Ok(())
    }

    async fn head(
        &self,
        extension_id: i64,
        environment: Environment,
        name: &SecretName,
    ) -> Result<Option<SecretHead>, StoreError> {
        self.select_head(extension_id, environment, name).await
    }

    async fn heads(
        &self,
        extension_id: i64,
        environment: Environment,
        names: &[SecretName],
    ) -> Result<Vec<SecretHead>, StoreError> {
        self.select_heads(extension_id, environment, Some(names))
            .await
    }

    async fn current(
        &self,
        extension_id: i64,
        environment: Environment,
        name: &SecretName,
    ) -> Result<Option<CurrentSecret>, StoreError> {
        self.select_current(extension_id, environment, name).await
    }

    async fn version(
        &self,
        extension_id: i64,
        environment: Environment,
        name: &SecretName,
        version: i64,
    ) -> Result<Option<SealedVersion>, StoreError> {
        self.select_version(extension_id, environment, name, version)
            .await
    }

    async fn list_live(
        &self,
        extension_id: i64,
        environment: Environment,
    ) -> Result<Vec<SecretHead>, StoreError> {
        self.select_heads(extension_id, environment, None).await
    }

    async fn history(
        &self,
        extension_id: i64,
        environment: Environment,
        name: &SecretName,
    ) -> Result<Vec<VersionInfo>, StoreError> {
        self.select_history(extension_id, environment, name).await
    }

    async fn delete_secret(
        &self,
        extension_id: i64,
        environment: Environment,
        name: &SecretName,
        actor: &str,
        purge: bool,
        audit: &[AuditRecord],
    ) -> Result<bool, StoreError> {
        let deleted = self
            .delete(extension_id, environment, name, actor, purge, audit)
            .await?;
        if deleted {
            self.announce(extension_id, environment, [name.as_str()])
                .await;
        }
        Ok(deleted)
    }

    async fn set_binding(
        &self,
        extension_id: i64,
        environment: Environment,
        name: &SecretName,
        allowed_hosts: Option<&lumio_core::AllowedHosts>,
        actor: &str,
        audit: &[AuditRecord],
    ) -> Result<bool, StoreError> {
        let column = rows::hosts_column(allowed_hosts);
        let bound = self
            .bind(extension_id, environment, name, column, actor, audit)
            .await?;
        if bound {
            self.announce(extension_id, environment, [name.as_str()])
                .await;
        }
        Ok(bound)
    }

    async fn insert_deployment(
        &self,
        extension_id: i64,
        environment: Environment,
        files_json: &str,
        actions: &[String],
        actor: &str,
        audit: RecordsOf<'_, DeploymentRecord>,
    ) -> Result<DeploymentRecord, StoreError> {
        let record = self
            .insert_deployment_row(extension_id, environment, files_json, actions, actor, audit)
            .await?;
        self.announce_deployment(extension_id, environment).await;
        Ok(record)
    }

    async fn list_deployments(
        &self,
        extension_id: i64,
        environment: Environment,
        limit: i64,
    ) -> Result<Vec<DeploymentRecord>, StoreError> {
        self.deployments(extension_id, environment, limit).await
    }

    async fn insert_token(
        &self,
        token: &TokenRecord,
        audit: &[AuditRecord],
    ) -> Result<(), StoreError> {
        self.insert_token_row(token, audit).await
    }

    async fn find_token(&self, id: &str) -> Result<Option<TokenRecord>, StoreError> {
        Ok(self.select_tokens(Some(id), None).await?.pop())
    }

    async fn list_tokens(&self, extension_id: Option<i64>) -> Result<Vec<TokenRecord>, StoreError> {
        self.select_tokens(None, extension_id).await
    }

    async fn revoke_token(
        &self,
        id: &str,
        by: &str,
        at: DateTime<Utc>,
        audit: &[AuditRecord],
    ) -> Result<Revocation, StoreError> {
        let revocation = self.revoke_token_row(id, by, at, audit).await?;
        if revocation == Revocation::Revoked {
            self.feed.token_revoked(id);
            confirmed(vec![self.notifier.token_revoked(id)]).await;
        }
        Ok(revocation)
    }

    async fn touch_token(&self, id: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.touch_token_row(id, at).await
    }

    async fn count_tokens(&self) -> Result<i64, StoreError> {
        let count = sqlx::query_scalar("SELECT count(*) FROM tokens")
            .fetch_one(&self.pool)
            .await?;
        Ok(count)
    }

    async fn append_audit(&self, batch: &[AuditRecord]) -> Result<(), StoreError> {
        self.insert_audit(batch).await
    }

    async fn query_audit(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
        self.select_audit(query).await
    }

    async fn prepare_audit_log(&self, until: DateTime<Utc>) -> Result<(), StoreError> {
        self.create_audit_partitions(until).await
    }

    async fn prune_audit(&self, cutoff: DateTime<Utc>) -> Result<AuditPruned, StoreError> {
        self.drop_audit_before(cutoff).await
    }

    async fn seal_audit(&self, extension_id: Option<i64>) -> Result<u64, StoreError> {
        self.seal_pending(extension_id).await
    }

    fn set_audit_root(&self, root: lumio_core::AuditRootKey) {
        self.audit_root.set(root);
    }

    async fn key_audit_chains(
        &self,
        root: &lumio_core::AuditRootKey,
    ) -> Result<Vec<(i64, ChainVerdict)>, StoreError> {
        self.key_chains(root).await
    }

    async fn verify_audit(&self, extension_id: i64) -> Result<ChainVerdict, StoreError> {
        self.walk_chain(extension_id).await
    }

    async fn export_audit(&self, query: &ExportQuery) -> Result<Vec<ChainedEntry>, StoreError> {
        self.select_export(query).await
    }

    fn feed_connected(&self) -> bool {
        self.listening.get()
    }

    fn pool_usage(&self) -> Option<crate::PoolUsage> {
        Some(crate::PoolUsage {
            open: self.pool.size(),
            idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
            max: POOL_SIZE,
        })
    }

    fn sync_marker(&self) -> Option<u64> {
        // With the listener down no barrier can come back: answer from the caches (an
        // outage is not an action outage); they are dropped once the listener is back.
        self.listening.get().then(|| self.notifier.barrier())
    }

    fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.feed.subscribe()
    }
}
