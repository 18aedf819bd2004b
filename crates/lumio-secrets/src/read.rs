//! The runtime's read path: `ctx.secrets.get(name)`. Cached, invalidated by every write
//! (here and, through the store's change feed, in every process sharing the database),
//! and audited: each call queues a `secret.get` record.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use lumio_audit::Ticket;
use lumio_core::{AuditEvent, AuditOutcome, CurrentValue, Environment, SecretName, SecretValue};
use lumio_store::AuditRecord;

use crate::due_dates::stamp;
use crate::secrets::place;
use crate::{SecretsService, ServiceError};

/// Longest wait for the change feed to deliver a sync marker.
const SYNC_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// The result of one audited read.
#[derive(Debug, Clone)]
pub struct SecretRead {
    /// `None` when the secret is not set (or deleted).
    pub value: Option<Arc<SecretValue>>,
    /// The audit record of this read; a value may leave the sandbox only once it is durable.
    pub ticket: Ticket,
}

/// An invocation's reads of one secret, as [`SecretsService::record_reads`] records them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadCount {
    pub name: SecretName,
    /// Whether the reads found a value.
    pub found: bool,
    /// How many `ctx.secrets.get` calls this stands for.
    pub count: u32,
    /// When the value read had expired (see [`SecretsService::expired_at`]); `None`: not
    /// expired.
    pub expired_at: Option<DateTime<Utc>>,
}

/// Which action, in which request, is reading.
#[derive(Debug, Clone, Copy)]
pub struct Reader<'a> {
    pub extension_id: i64,
    pub environment: Environment,
    pub action: &'a str,
    pub request_id: &'a str,
}

impl SecretsService {
    /// Reads the current value of `name` for an action and queues its audit record.
    /// (Not instrumented: this is the hot path, and spans cost more than the lookup.)
    pub async fn get(
        &self,
        reader: Reader<'_>,
        name: &SecretName,
    ) -> Result<SecretRead, ServiceError> {
        if let Some(read) = self.try_get_cached(reader, name) {
            return read;
        }
        let value = self
            .load(reader.extension_id, reader.environment, name)
            .await?;
        let mut record = read_record(&reader, name, value.is_some());
        if value.as_ref().and_then(|v| self.expired_at(v)).is_some() {
            record.outcome = Some(AuditOutcome::Expired.into());
        }
        let ticket = self.inner.audit.try_enqueue(record)?;
        Ok(SecretRead {
            value: value.map(|current| current.value),
            ticket,
        })
    }

    /// The current value of `name` and its binding for an action, without an audit record: the runtime
    /// counts an invocation's reads and records them with [`SecretsService::record_reads`]
    /// before anything it produced can leave. Cached; a miss reads the store.
    pub async fn read_value(
        &self,
        reader: Reader<'_>,
        name: &SecretName,
    ) -> Result<Option<CurrentValue>, ServiceError> {
        if let Some(value) = self.cached(reader.extension_id, reader.environment, name) {
            return Ok(value);
        }
        self.load(reader.extension_id, reader.environment, name)
            .await
    }

    /// Queues one `secret.get` record per entry — a secret, whether it was found (and
    /// past its expiry: outcome `expired`), and how many times the invocation read it —
    /// and returns the ticket of the last. One record per secret and invocation, not per
    /// call: a loop of 10,000 reads is one row that says 10,000.
    pub fn record_reads(
        &self,
        reader: Reader<'_>,
        reads: &[ReadCount],
    ) -> Result<Option<Ticket>, ServiceError> {
        let mut last = None;
        for read in reads {
            let mut record = read_record(&reader, &read.name, read.found);
            let mut detail = reads_detail(read.count);
            if let (true, Some(at)) = (read.found, read.expired_at) {
                record.outcome = Some(AuditOutcome::Expired.into());
                detail.push_str(&format!("; the value expired at {}", stamp(at)));
            }
            record.detail = Some(detail);
            last = Some(self.inner.audit.try_enqueue(record)?);
        }
        Ok(last)
    }

    /// When the value read expired, if it has by the service's clock: an action still gets
    /// it, and the read is recorded as `expired`.
    pub fn expired_at(&self, value: &CurrentValue) -> Option<DateTime<Utc>> {
        value.expires_at.filter(|at| *at <= self.now())
    }

    /// Queues an invocation's `secret.denied` records: one per name it asked for outside
    /// its grant list `grants` (`secrets: [...]`), saying how many calls asked, and one
    /// with the number of `further_names` past those (the runtime records at most 16 names
    /// one by one). Names only; there is no value to record. Returns the last ticket.
    pub fn record_denied(
        &self,
        reader: Reader<'_>,
        denied: &[(SecretName, u32)],
        further_names: u32,
        grants: &[SecretName],
    ) -> Result<Option<Ticket>, ServiceError> {
        let list: Vec<&str> = grants.iter().map(SecretName::as_str).collect();
        let granted = if list.is_empty() {
            "the action declares secrets: []".to_owned()
        } else {
            format!("the action may read only {}", list.join(", "))
        };
        let mut last = None;
        for (name, count) in denied {
            let mut record = denied_record(&reader, Some(name));
            let times = match count {
                1 => "once".to_owned(),
                n => format!("{n} times"),
            };
            record.detail = Some(format!(
                "not granted: {granted}; asked for {times} in this invocation"
            ));
            last = Some(self.inner.audit.try_enqueue(record)?);
        }
        if further_names > 0 {
            let mut record = denied_record(&reader, None);
            record.detail = Some(format!(
                "not granted: {granted}; {further_names} further names were asked for in this invocation, not recorded one by one (at most {} are), and refused as limit_exceeded",
                denied.len()
            ));
            last = Some(self.inner.audit.try_enqueue(record)?);
        }
        Ok(last)
    }

    /// [`SecretsService::get`] without waiting: `None` when the value is not cached in this
    /// process, so a synchronous caller can fall back to blocking.
    pub fn try_get_cached(
        &self,
        reader: Reader<'_>,
        name: &SecretName,
    ) -> Option<Result<SecretRead, ServiceError>> {
        let value = self.cached(reader.extension_id, reader.environment, name)?;
        let mut record = read_record(&reader, name, value.is_some());
        if value.as_ref().and_then(|v| self.expired_at(v)).is_some() {
            record.outcome = Some(AuditOutcome::Expired.into());
        }
        let queued = self.inner.audit.try_enqueue(record);
        Some(
            queued
                .map(|ticket| SecretRead {
                    value: value.map(|current| current.value),
                    ticket,
                })
                .map_err(Into::into),
        )
    }

    /// Waits until this process has applied every secret change that other processes
    /// committed before the barrier `marker` (from [`lumio_store::Store::sync_marker`]) was
    /// asked for, so the reads that follow see them. If the feed does not answer in time,
    /// the caches are dropped instead: reads then go to the store.
    pub async fn caught_up_to(&self, marker: u64) {
        if !self.inner.cache.synced.wait(marker, SYNC_WAIT).await {
            tracing::warn!("the change feed did not catch up in time; dropping cached secrets");
            self.inner.cache.apply(&lumio_store::Change::Everything);
        }
    }

    /// The cached value and binding, if this process holds them: `Some(None)` caches "not set".
    pub fn cached(
        &self,
        extension_id: i64,
        environment: Environment,
        name: &SecretName,
    ) -> Option<Option<CurrentValue>> {
        let key = (extension_id, environment, name.as_str().to_owned());
        let cached = self.inner.cache.values.get(&key);
        if cached.is_some() {
            metrics::counter!("lumio_secret_cache_hits_total").increment(1);
        }
        cached
    }

    /// Reads and opens the current version from the store, and caches it.
    pub(crate) async fn load(
        &self,
        extension_id: i64,
        environment: Environment,
        name: &SecretName,
    ) -> Result<Option<CurrentValue>, ServiceError> {
        metrics::counter!("lumio_secret_cache_misses_total").increment(1);
        let seen = self.inner.cache.begin_read();
        let current = self
            .inner
            .store
            .current(extension_id, environment, name)
            .await?;
        let value = match current {
            None => None,
            Some(current) => {
                let sealed = &current.version;
                let place = place(extension_id, environment, name, sealed.version);
                let value = self.open_sealed(&place, &sealed.sealed).await?;
                Some(CurrentValue {
                    value: Arc::new(value),
                    allowed_hosts: current.allowed_hosts.map(Arc::new),
                    expires_at: current.expires_at,
                })
            }
        };
        let key = (extension_id, environment, name.as_str().to_owned());
        self.inner.cache.fill_value(seen, key, value.clone());
        Ok(value)
    }
}

fn reads_detail(count: u32) -> String {
    match count {
        1 => "read once in this invocation".to_owned(),
        n => format!("read {n} times in this invocation"),
    }
}

/// A `secret.denied` record; `name` is `None` for the further-names record.
fn denied_record(reader: &Reader<'_>, name: Option<&SecretName>) -> AuditRecord {
    AuditRecord {
        at: Utc::now(),
        extension_id: reader.extension_id,
        environment: Some(reader.environment),
        event: AuditEvent::SecretDenied,
        secret_name: name.map(|n| n.as_str().to_owned()),
        actor: None,
        action: Some(reader.action.to_owned()),
        request_id: Some(reader.request_id.to_owned()),
        outcome: Some(AuditOutcome::Denied.into()),
        detail: None,
    }
}

fn read_record(reader: &Reader<'_>, name: &SecretName, found: bool) -> AuditRecord {
    AuditRecord {
        at: Utc::now(),
        extension_id: reader.extension_id,
        environment: Some(reader.environment),
        event: AuditEvent::SecretGet,
        secret_name: Some(name.as_str().to_owned()),
        actor: None,
        action: Some(reader.action.to_owned()),
        request_id: Some(reader.request_id.to_owned()),
        outcome: Some(
            if found {
                AuditOutcome::Found
            } else {
                AuditOutcome::NotSet
            }
            .into(),
        ),
        detail: None,
    }
}
