//! Invocation logs for `lumio logs`: every invocation, with its masked console output and
//! the names of the secrets it asked for, goes into the store through a background batch
//! writer ([`writer`]), so every server on the database sees every server's invocations;
//! reads page through them by cursor and may wait for new ones ([`follow`]).
//!
//! Not the audit log: the writer drops what it cannot queue, and what is queued when the
//! process dies is lost. Console text is masked by the runtime before it gets here.

mod follow;
mod sample;
pub(crate) mod writer;

use chrono::{DateTime, Utc};
use lumio_core::Environment;
use lumio_runtime::ConsoleLine;
use lumio_store::{NewInvocationLog, StoredInvocationLog};
use serde::{Deserialize, Serialize};

pub use follow::LogsRequest;

/// How long and how many invocations are kept by default (see `--log-retention-days`).
pub const DEFAULT_LOG_RETENTION_DAYS: u32 = 7;
/// Invocations kept per extension and environment; older ones go in the hourly pass.
pub const KEPT_INVOCATIONS: i64 = 10_000;

/// What one `ctx.secrets.get` name got. Never the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadOutcome {
    Found,
    NotSet,
    /// Outside the action's grants.
    Denied,
    /// A `ctx.fetch` that would have carried its value to a host its binding does not
    /// allow was refused.
    EgressBlocked,
}

impl ReadOutcome {
    /// As `lumio logs` and the API say it.
    pub fn as_str(self) -> &'static str {
        match self {
            ReadOutcome::Found => "found",
            ReadOutcome::NotSet => "not set",
            ReadOutcome::Denied => "denied",
            ReadOutcome::EgressBlocked => "egress blocked",
        }
    }
}

/// One secret name an invocation asked for, once per outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretRead {
    pub name: String,
    pub outcome: ReadOutcome,
}

/// One invocation as `lumio logs` shows it.
#[derive(Debug, Clone)]
pub struct InvocationLog {
    /// Opaque: the invocation's position in its environment's log.
    pub id: String,
    pub at: DateTime<Utc>,
    pub action: String,
    pub request_id: String,
    /// `ok`, or the error code.
    pub outcome: String,
    pub duration_ms: f64,
    pub console: Vec<ConsoleLine>,
    /// The error message given to the caller, if any.
    pub error: Option<String>,
    pub reads: Vec<SecretRead>,
}

/// A page of invocations and where to read on from.
#[derive(Debug, Clone)]
pub struct LogsPage {
    pub invocations: Vec<InvocationLog>,
    /// Pass as the next request's `after`.
    pub cursor: String,
}

/// An invocation as queued for the writer: serialized there, off the request path.
#[derive(Debug)]
pub(crate) struct Finished {
    pub extension_id: i64,
    pub environment: Environment,
    pub at: DateTime<Utc>,
    pub action: String,
    pub request_id: String,
    pub outcome: String,
    pub duration_ms: f64,
    pub console: Vec<ConsoleLine>,
    pub error: Option<String>,
    pub reads: Vec<SecretRead>,
}

impl Finished {
    pub(crate) fn row(self) -> NewInvocationLog {
        NewInvocationLog {
            extension_id: self.extension_id,
            environment: self.environment,
            at: self.at,
            action: self.action,
            request_id: self.request_id,
            outcome: self.outcome,
            duration_ms: self.duration_ms,
            console: serde_json::to_string(&self.console).unwrap_or_else(|_| "[]".into()),
            error: self.error,
            reads: serde_json::to_string(&self.reads).unwrap_or_else(|_| "[]".into()),
        }
    }
}

impl InvocationLog {
    /// A stored row; JSON that no longer parses (edited outside Lumio) reads as empty.
    pub(crate) fn from_row(row: StoredInvocationLog) -> Self {
        Self {
            id: row.position.to_string(),
            at: row.at,
            action: row.action,
            request_id: row.request_id,
            outcome: row.outcome,
            duration_ms: row.duration_ms,
            console: serde_json::from_str(&row.console).unwrap_or_default(),
            error: row.error,
            reads: serde_json::from_str(&row.reads).unwrap_or_default(),
        }
    }
}
