//! The runtime's view of the platform for one invocation.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use lumio_audit::Ticket;
use lumio_core::{CurrentValue, Environment, SecretName};
use lumio_runtime::{ConsoleLine, Denials, Host, HostError, LogLevel, SecretReads};
use lumio_secrets::{stamp, ReadCount, Reader, SecretsService, ServiceError};
use tokio::runtime::Handle;

use crate::logs::{ReadOutcome, SecretRead};

/// Serves `ctx.secrets.get` for one invocation of one action: only the invoked
/// extension's secrets of the invoked environment are reachable from here.
pub(crate) struct ActionHost {
    pub secrets: SecretsService,
    pub handle: Handle,
    pub extension_id: i64,
    pub environment: Environment,
    pub action: String,
    pub request_id: String,
    /// Each name asked for and what it got, for the invocation log (never a value).
    pub reads: Mutex<Vec<SecretRead>>,
    /// Names read past their current version's expiry, and when it was: their reads are
    /// recorded as `expired`, and the invocation log warns of each.
    pub expired: Mutex<BTreeMap<SecretName, DateTime<Utc>>>,
}

impl ActionHost {
    /// Notes a name for the invocation log, once per outcome.
    fn note(&self, name: &SecretName, outcome: ReadOutcome) {
        let mut reads = self.reads.lock().unwrap_or_else(|e| e.into_inner());
        if !reads
            .iter()
            .any(|r| r.outcome == outcome && r.name == name.as_str())
        {
            reads.push(SecretRead {
                name: name.as_str().to_owned(),
                outcome,
            });
        }
    }

    /// The names noted, in the order first asked.
    pub(crate) fn take_reads(&self) -> Vec<SecretRead> {
        std::mem::take(&mut *self.reads.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// One warning line per expired secret the invocation read, for its log: the name and
    /// when it expired, never the value.
    pub(crate) fn expiry_warnings(&self) -> Vec<ConsoleLine> {
        let expired = self.expired.lock().unwrap_or_else(|e| e.into_inner());
        expired
            .iter()
            .map(|(name, at)| ConsoleLine {
                level: LogLevel::Warn,
                text: format!(
                    "lumio: secret {name} expired at {}; the action was given its value. Set a new one with `lumio env set {name}`",
                    stamp(*at)
                ),
            })
            .collect()
    }

    fn expired_at(&self, name: &SecretName) -> Option<DateTime<Utc>> {
        let expired = self.expired.lock().unwrap_or_else(|e| e.into_inner());
        expired.get(name).copied()
    }

    fn reader(&self) -> Reader<'_> {
        Reader {
            extension_id: self.extension_id,
            environment: self.environment,
            action: &self.action,
            request_id: &self.request_id,
        }
    }
}

fn host_error(err: ServiceError) -> HostError {
    match err {
        ServiceError::Audit(unavailable) => HostError::AuditUnavailable(unavailable),
        other => HostError::Unavailable(other.to_string()),
    }
}

#[async_trait]
impl Host for ActionHost {
    fn secret_get(&self, name: &SecretName) -> Result<Option<CurrentValue>, HostError> {
        // Runtime workers are plain threads: a cache miss may block on the store.
        let reader = self.reader();
        let value = match self
            .secrets
            .cached(reader.extension_id, reader.environment, name)
        {
            Some(value) => value,
            None => self
                .handle
                .block_on(self.secrets.read_value(reader, name))
                .map_err(host_error)?,
        };
        // An expired value is still given (the extension keeps working); the read is
        // recorded as such and the log says so.
        if let Some(at) = value.as_ref().and_then(|v| self.secrets.expired_at(v)) {
            let mut expired = self.expired.lock().unwrap_or_else(|e| e.into_inner());
            expired.insert(name.clone(), at);
        }
        Ok(value)
    }

    fn record_reads(&self, reads: &[SecretReads]) -> Result<Option<Ticket>, HostError> {
        for read in reads {
            let outcome = if read.found {
                ReadOutcome::Found
            } else {
                ReadOutcome::NotSet
            };
            self.note(&read.name, outcome);
        }
        let reads: Vec<_> = reads
            .iter()
            .map(|r| ReadCount {
                name: r.name.clone(),
                found: r.found,
                count: r.count,
                expired_at: r.found.then(|| self.expired_at(&r.name)).flatten(),
            })
            .collect();
        self.secrets
            .record_reads(self.reader(), &reads)
            .map_err(host_error)
    }

    fn record_denied(&self, denials: &Denials<'_>) -> Result<Option<Ticket>, HostError> {
        for denied in &denials.names {
            self.note(&denied.name, ReadOutcome::Denied);
        }
        let denied: Vec<_> = denials
            .names
            .iter()
            .map(|d| (d.name.clone(), d.count))
            .collect();
        self.secrets
            .record_denied(
                self.reader(),
                &denied,
                denials.further_names,
                denials.grants,
            )
            .map_err(host_error)
    }

    fn record_egress_blocked(&self, name: &SecretName, host: &str) -> Result<Ticket, HostError> {
        self.note(name, ReadOutcome::EgressBlocked);
        self.secrets
            .record_egress_blocked(self.reader(), name, host)
            .map_err(host_error)
    }

    async fn audit_durable(&self, up_to: Ticket) -> Result<(), HostError> {
        Ok(self.secrets.audit().durable(up_to).await?)
    }
}
