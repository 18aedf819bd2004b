//! The result of running an action.

use std::fmt;
use std::time::Duration;

use lumio_core::SecretName;
use serde::{Deserialize, Serialize};

/// The runtime's failure codes live in `lumio-core`, so the API maps them in one table.
pub use lumio_core::ActionErrorCode as ErrorCode;

/// Reads the code a runtime-made JS error carries (its `code` property).
pub(crate) fn code_from_js(code: &str) -> Option<ErrorCode> {
    Some(match code {
        "limit_exceeded" => ErrorCode::LimitExceeded,
        "audit_unavailable" => ErrorCode::AuditUnavailable,
        "fetch_refused" => ErrorCode::FetchRefused,
        "fetch_failed" => ErrorCode::FetchFailed,
        "unavailable" => ErrorCode::Unavailable,
        _ => return None,
    })
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
