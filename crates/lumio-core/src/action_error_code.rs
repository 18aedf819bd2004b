//! Why an action invocation failed: the runtime's codes, below every crate that reports
//! them, so the API's one code table (`lumio_api::ErrorCode::from`) covers them with the
//! service's `ErrorKind`.

use std::fmt;

use serde::Serialize;

/// Why an invocation produced no value. `code` is stable (clients and scripts match on it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionErrorCode {
    /// No action by that name in the deployment.
    NotFound,
    /// The arguments do not match the action's `v` validators.
    InvalidArgs,
    /// The handler threw (or its promise rejected); the message is the error's, verbatim.
    ActionError,
    /// The return value (or error message) contained a secret's value.
    SecretLeak,
    /// The CPU-time or wall-time limit was reached.
    Timeout,
    /// The memory limit was reached.
    OutOfMemory,
    /// The stack limit was reached (runaway recursion).
    StackOverflow,
    /// A per-invocation count limit was reached (e.g. `ctx.secrets.get` calls).
    LimitExceeded,
    /// The audit log could not be committed, so nothing that may hold a secret left.
    AuditUnavailable,
    /// The secret store could not be reached for a read (the database is down).
    Unavailable,
    /// `ctx.fetch` was refused (private address, scheme, ...) and the handler did not catch it.
    FetchRefused,
    /// `ctx.fetch` failed (the name did not resolve, the connection was refused, no
    /// answer in time, ...) and the handler did not catch it.
    FetchFailed,
    /// Too many invocations are waiting for a worker; this one was not started.
    Overloaded,
    /// The runtime itself failed.
    Internal,
}

impl ActionErrorCode {
    /// The wire name, e.g. `secret_leak`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotFound => "not_found",
            Self::InvalidArgs => "invalid_args",
            Self::ActionError => "action_error",
            Self::SecretLeak => "secret_leak",
            Self::Timeout => "timeout",
            Self::OutOfMemory => "out_of_memory",
            Self::StackOverflow => "stack_overflow",
            Self::LimitExceeded => "limit_exceeded",
            Self::AuditUnavailable => "audit_unavailable",
            Self::FetchRefused => "fetch_refused",
            Self::FetchFailed => "fetch_failed",
            Self::Unavailable => "unavailable",
            Self::Overloaded => "overloaded",
            Self::Internal => "internal",
        }
    }
}

impl fmt::Display for ActionErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
