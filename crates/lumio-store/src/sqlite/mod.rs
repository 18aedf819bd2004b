//! The SQLite store: the embedded default, one file, same behaviour as PostgreSQL.
//! Its change feed is local to the process that owns the store.

mod audit;
mod chain;
mod deployments;
mod secrets;
mod tokens;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use lumio_core::{Environment, ExtensionSlug, SecretName};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use tokio::sync::broadcast;

use crate::feed::Feed;
use crate::{rotation, rows, sessions, staff};
use crate::{
    AccessChange, AccessFilter, AccessRequest, AuditEntry, AuditPruned, AuditQuery, AuditRecord,
    ChainVerdict, ChainedEntry, Change, ClaimOutcome, ClaimRecord, CurrentSecret, DeploymentRecord,
    ExportQuery, Extension, NewVersion, RecordsOf, Resealed, Revocation, SealedVersion, SecretHead,
    SessionRecord, Store, StoreError, StoredVersion, TokenRecord, VersionInfo, VersionKey,
};

const READERS: u32 = 4;
/// How long a write waits for another process holding the file's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// A [`Store`] in a SQLite file.
pub struct SqliteStore {
    /// One connection: SQLite runs one writer at a time anyway, and queueing in the pool
    /// is fairer and cheaper than connections spinning on the busy handler.
    writer: SqlitePool,
    readers: SqlitePool,
    feed: Feed,
}

impl SqliteStore {
    /// Opens (creating if missing) the file a `sqlite://PATH` URL names, in WAL mode with
    /// `synchronous = FULL` so every commit survives power loss, and runs the migrations.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .after_release(|conn, _| Box::pin(still_usable(conn)))
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&writer).await?;
        let readers = SqlitePoolOptions::new()
            .max_connections(READERS)
            .connect_with(options)
            .await?;
        Ok(Self {
            writer,
            readers,
            feed: Feed::new(),
        })
    }
}

/// Whether a writer connection going back to the pool can serve the next write. After a
/// failed COMMIT (a full disk) SQLite may already have rolled the transaction back, so
/// sqlx's own ROLLBACK fails and its count of open transactions stays at one: every later
/// `BEGIN` on that connection would fail until a restart. Such a connection is closed (the
/// pool opens a fresh one). The ping lets the rollback sqlx queued on drop run first.
async fn still_usable(conn: &mut sqlx::SqliteConnection) -> Result<bool, sqlx::Error> {
    use sqlx::Connection;
    conn.ping().await?;
    let usable = !conn.is_in_transaction();
    if !usable {
        tracing::warn!("closing a SQLite writer connection left inside a failed transaction");
    }
    Ok(usable)
}

/// Timestamps are stored as microseconds since the Unix epoch: PostgreSQL's precision,
/// so both backends return the same instant.
pub(crate) fn micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

pub(crate) fn from_micros(micros: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_micros(micros)
        .ok_or_else(|| StoreError::Corrupt(format!("timestamp {micros}")))
}

sessions::session_queries!(SqliteStore, writer, readers);
staff::staff_queries!(
    SqliteStore,
    readers,
    i64,
    micros,
    from_micros,
    audit::insert_change_records
);

impl SqliteStore {
    async fn begin_write(&self) -> Result<sqlx::Transaction<'_, sqlx::Sqlite>, StoreError> {
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// The feed of a SQLite store reaches this process only.
    async fn announce_extension(&self, extension_id: i64) {
        self.feed.send(Change::Extension { extension_id });
    }
}
rotation::rotation_queries!(SqliteStore, writer, readers);

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn meta_get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let value = sqlx::query_scalar("SELECT value FROM lumio_meta WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.readers)
            .await?;
        Ok(value)
    }

    async fn meta_put_if_absent(&self, key: &str, value: &[u8]) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO lumio_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(value)
        .execute(&self.writer)
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
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO extensions (slug, created_at) VALUES ($1, $2) RETURNING id",
        )
        .bind(slug.as_str())
        .bind(micros(created_at))
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
        for write in writes {
            self.feed
                .secret(extension_id, environment, write.name.as_str());
        }
        Ok(())
    }

    async fn head(
        &self,
        extension_id: i64,
        environment: Environment,
        name: &SecretName,
    ) -> Result<Option<SecretHead>, StoreError> {
        let names = std::slice::from_ref(name);
        Ok(self.heads(extension_id, environment, names).await?.pop())
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
            self.feed.secret(extension_id, environment, name.as_str());
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
            self.feed.secret(extension_id, environment, name.as_str());
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
        self.feed.deployment(extension_id, environment);
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
        }
        Ok(revocation)
    }

    async fn touch_token(&self, id: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.touch_token_row(id, at).await
    }

    async fn count_tokens(&self) -> Result<i64, StoreError> {
        let count = sqlx::query_scalar("SELECT count(*) FROM tokens")
            .fetch_one(&self.readers)
            .await?;
        Ok(count)
    }

    async fn append_audit(&self, batch: &[AuditRecord]) -> Result<(), StoreError> {
        self.insert_audit(batch).await
    }

    async fn query_audit(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
        self.select_audit(query).await
    }

    async fn prepare_audit_log(&self, _until: DateTime<Utc>) -> Result<(), StoreError> {
        Ok(())
    }

    async fn prune_audit(&self, cutoff: DateTime<Utc>) -> Result<AuditPruned, StoreError> {
        self.delete_audit_before(cutoff).await
    }

    async fn seal_audit(&self, extension_id: Option<i64>) -> Result<u64, StoreError> {
        self.seal_pending(extension_id).await
    }

    async fn verify_audit(&self, extension_id: i64) -> Result<ChainVerdict, StoreError> {
        self.walk_chain(extension_id).await
    }

    async fn export_audit(&self, query: &ExportQuery) -> Result<Vec<ChainedEntry>, StoreError> {
        self.select_export(query).await
    }

    fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.feed.subscribe()
    }
}
