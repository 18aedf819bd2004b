//! The result of running an action.

use std::fmt;
use std::time::Duration;

use lumio_core::SecretName;
use serde::Serialize;

/// Why an invocation produced no value. `code` is stable (clients and scripts match on it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
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

impl ErrorCode {
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

    /// Reads the code a runtime-made JS error carries (its `code` property).
    pub(crate) fn from_js_code(code: &str) -> Option<Self> {
        Some(match code {
            "limit_exceeded" => Self::LimitExceeded,
            "audit_unavailable" => Self::AuditUnavailable,
            "fetch_refused" => Self::FetchRefused,
            "fetch_failed" => Self::FetchFailed,
            "unavailable" => Self::Unavailable,
            _ => return None,
        })
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error a caller of the action sees: `{"code": ..., "message": ...}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActionError {
    /// Stable machine-readable code.
    pub code: ErrorCode,
    /// What happened, for a person. Never holds a secret value.
    pub message: String,
    /// The next step, when the platform threw the error and knows it (a refused
    /// `ctx.fetch`: change the binding, or allow private addresses). Not logged.
    #[serde(skip)]
    pub hint: Option<&'static str>,
}

impl ActionError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            hint: None,
        }
    }
}

impl fmt::Display for ActionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ActionError {}

/// Severity of a captured `console` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// `console.debug`
    Debug,
    /// `console.log` and `console.info`
    Info,
    /// `console.warn`
    Warn,
    /// `console.error`
    Error,
}

/// One line of an action's `console` output, with secret values masked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConsoleLine {
    /// Which `console` method wrote it.
    pub level: LogLevel,
    /// The text, every secret read in the invocation replaced by `[REDACTED:NAME]`.
    pub text: String,
}

impl ConsoleLine {
    /// What replaces the console output of an invocation whose reads could not be audited.
    pub(crate) fn withheld() -> Self {
        Self {
            level: LogLevel::Warn,
            text: "console output withheld: the audit log of this invocation's secret reads could not be committed".into(),
        }
    }
}

/// The outcome of one invocation.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// The action's JSON value, or why there is none.
    pub result: Result<serde_json::Value, ActionError>,
    /// Captured `console` output, masked. Withheld when the audit log was unavailable.
    pub console: Vec<ConsoleLine>,
    /// The JavaScript stack of a thrown error, with TypeScript positions, masked: for the
    /// server log, not for the caller.
    pub stack: Option<String>,
    /// Secrets whose values the leak guard found in the result: write a `leak.blocked`
    /// audit record for each.
    pub leak_blocked: Vec<SecretName>,
    /// How many `ctx.secrets.get` calls the action made.
    pub secret_gets: u32,
    /// How many `secret.denied` audit records its refused reads wrote.
    pub denied_records: u32,
    /// Wall-clock duration, queueing excluded.
    pub duration: Duration,
}

impl Invocation {
    pub(crate) fn failed(error: ActionError) -> Self {
        Self {
            result: Err(error),
            console: Vec::new(),
            stack: None,
            leak_blocked: Vec::new(),
            secret_gets: 0,
            denied_records: 0,
            duration: Duration::ZERO,
        }
    }
}
