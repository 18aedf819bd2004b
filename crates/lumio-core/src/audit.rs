//! The two audit types the action runtime needs, kept here so that it does not depend on
//! the audit writer (and through it on the store and its database drivers).

/// The audit store could not be written; the record is not durable. Its message is what
/// a caller may see (an action's client among them), so the cause — a database's own
/// error text — is kept apart, for the operator: [`AuditUnavailable::cause`].
#[derive(Debug, Clone, thiserror::Error)]
#[error("the audit log could not be written; the operation was stopped so nothing goes unrecorded")]
pub struct AuditUnavailable(pub String);

impl AuditUnavailable {
    /// Why, for logs and `/readyz`.
    pub fn cause(&self) -> &str {
        &self.0
    }
}

/// Position of an enqueued audit record; records commit in ticket order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ticket(pub u64);
