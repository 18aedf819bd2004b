//! What the runtime needs from the platform: secrets and the audit log. The server
//! implements [`Host`] over the secrets service; tests use an in-memory map.
//!
//! Architecture Invariant: the runtime knows nothing of stores, tokens or HTTP. A host is
//! made per invocation and already knows the extension, environment, action and request id.

use async_trait::async_trait;
use lumio_core::{AuditUnavailable, Ticket};
use lumio_core::{CurrentValue, SecretName};

/// Why the host could not serve a request. Never holds a secret value.
#[derive(Debug, Clone, thiserror::Error)]
pub enum HostError {
    /// The audit log could not be written or committed.
    #[error(transparent)]
    AuditUnavailable(#[from] AuditUnavailable),
    /// The secret store could not be read.
    #[error("the secret store is unavailable ({0}); try again shortly")]
    Unavailable(String),
}

/// The reads of one secret in one invocation, as its audit record states them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretReads {
    pub name: SecretName,
    /// Whether the reads found a value (a secret deleted mid-invocation gives two entries).
    pub found: bool,
    /// How many `ctx.secrets.get` calls this entry stands for.
    pub count: u32,
}

/// The platform side of one invocation.
#[async_trait]
pub trait Host: Send + Sync {
    /// Reads the secret's current value and egress binding (`None`: not set). Called synchronously from a
    /// runtime worker thread (a plain OS thread, where blocking is allowed). Records
    /// nothing: the runtime counts reads and calls [`Host::record_reads`] before anything
    /// the invocation produced can leave.
    fn secret_get(&self, name: &SecretName) -> Result<Option<CurrentValue>, HostError>;

    /// Enqueues one `secret.get` audit record per entry and returns the ticket of the last
    /// (`None` for no entries).
    fn record_reads(&self, reads: &[SecretReads]) -> Result<Option<Ticket>, HostError>;

    /// Enqueues a `secret.denied` audit record: the action asked for `name`, which is not
    /// in its `grants`. Called once per invocation and name; returns the record's ticket.
    fn record_denied(&self, name: &SecretName, grants: &[SecretName]) -> Result<Ticket, HostError>;

    /// Enqueues an `egress.blocked` audit record: a `ctx.fetch` that would have carried the
    /// value of `name` to `host`, which its binding does not allow, was refused unsent.
    fn record_egress_blocked(&self, name: &SecretName, host: &str) -> Result<Ticket, HostError>;

    /// Waits until every audit record up to and including `up_to` is committed.
    async fn audit_durable(&self, up_to: Ticket) -> Result<(), HostError>;
}
