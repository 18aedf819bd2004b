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

/// The refused reads of one name in one invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeniedReads {
    pub name: SecretName,
    /// How many `ctx.secrets.get` calls asked for it.
    pub count: u32,
}

/// Every read an invocation's grants refused, as its `secret.denied` records state them:
/// one per name (at most 16 names), and one saying how many further names were asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denials<'a> {
    pub names: Vec<DeniedReads>,
    /// Distinct names refused after the first 16: not recorded one by one.
    pub further_names: u32,
    /// The action's grants, which the records name.
    pub grants: &'a [SecretName],
}

impl Denials<'_> {
    /// The audit records these make: one per name, and one for the further names.
    pub fn records(&self) -> u32 {
        let names = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        names.saturating_add(u32::from(self.further_names > 0))
    }
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

    /// Enqueues the `secret.denied` audit records of an invocation: one per name it asked
    /// for outside its grants, with the number of calls, and one with the number of
    /// further names if there were more than 16. Called once, when the invocation ends,
    /// before its output leaves; returns the ticket of the last record.
    fn record_denied(&self, denials: &Denials<'_>) -> Result<Option<Ticket>, HostError>;

    /// Enqueues an `egress.blocked` audit record: a `ctx.fetch` that would have carried the
    /// value of `name` to `host`, which its binding does not allow, was refused unsent.
    fn record_egress_blocked(&self, name: &SecretName, host: &str) -> Result<Ticket, HostError>;

    /// Waits until every audit record up to and including `up_to` is committed.
    async fn audit_durable(&self, up_to: Ticket) -> Result<(), HostError>;
}
