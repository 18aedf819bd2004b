//! What other parts of the process read of the store through the service: its change
//! feed (for caches of their own, such as the actions' deployments), readings for
//! `/readyz` and `/metrics`, the audit log's upkeep, and the invocation logs.

use chrono::{DateTime, Utc};
use lumio_store::{AuditPruned, Change, PoolUsage};
use tokio::sync::broadcast;

use crate::{SecretsService, ServiceError};

impl SecretsService {
    /// The store's change feed, from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.inner.store.subscribe()
    }

    /// A barrier through the change feed (see `Store::sync_marker`): `None` when the feed
    /// needs none (SQLite) or cannot give one (its connection is down).
    pub fn sync_marker(&self) -> Option<u64> {
        self.inner.store.sync_marker()
    }

    /// False while the change feed has lost its connection to the database.
    pub fn feed_connected(&self) -> bool {
        self.inner.store.feed_connected()
    }

    /// The database's connection pool, for metrics; `None` where there is none to report.
    pub fn pool_usage(&self) -> Option<PoolUsage> {
        self.inner.store.pool_usage()
    }

    /// Makes room for audit records stamped up to `until` (PostgreSQL's daily partitions).
    pub async fn prepare_audit_log(&self, until: DateTime<Utc>) -> Result<(), ServiceError> {
        Ok(self.inner.store.prepare_audit_log(until).await?)
    }

    /// Removes the audit records stamped before `cutoff`, moving each chain's anchor.
    pub async fn prune_audit(&self, cutoff: DateTime<Utc>) -> Result<AuditPruned, ServiceError> {
        Ok(self.inner.store.prune_audit(cutoff).await?)
    }

    /// Writes a batch of invocation logs (the actions' log writer).
    pub async fn append_invocation_logs(
        &self,
        batch: &[lumio_store::NewInvocationLog],
    ) -> Result<(), ServiceError> {
        Ok(self.inner.store.append_invocation_logs(batch).await?)
    }

    /// A page of invocation logs. The caller has checked access.
    pub async fn invocation_logs(
        &self,
        query: &lumio_store::LogQuery<'_>,
    ) -> Result<lumio_store::LogPage, ServiceError> {
        Ok(self.inner.store.invocation_logs(query).await?)
    }

    /// Removes invocation logs stamped before `cutoff`, and each extension and
    /// environment's beyond its newest `keep`.
    pub async fn prune_invocation_logs(
        &self,
        cutoff: DateTime<Utc>,
        keep: i64,
    ) -> Result<lumio_store::LogsPruned, ServiceError> {
        Ok(self.inner.store.prune_invocation_logs(cutoff, keep).await?)
    }

    /// Whether the database answers a query (for readiness probes).
    pub async fn probe_database(&self) -> Result<(), ServiceError> {
        self.inner.store.meta_get("readyz").await?;
        Ok(())
    }
}
