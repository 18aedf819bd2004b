//! The one error shape a user sees: `error: <message>` and, when we know what to do next,
//! `hint: <what to do>`. Anything else is an `anyhow` error whose chain becomes the message.

use std::fmt;
use std::io::Write;

use lumio_api::ErrorCode;

/// The class of a failure, as the process's exit status, so scripts can tell "fix the
/// token" from "try again later" without parsing messages (README: exit status).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Anything not below: bad input, a file that cannot be read, a server error.
    General = 1,
    /// The command line itself is wrong (clap's own status).
    Usage = 2,
    /// No token, a bad or expired one, or one without the right.
    Auth = 3,
    /// The extension, secret, version, token or action does not exist.
    NotFound = 4,
    /// Someone changed it first, or it already exists.
    Conflict = 5,
    /// The server is unreachable, overloaded or cannot reach its database: try again.
    Unavailable = 6,
    /// `lumio run`: the action ran and failed (threw, timed out, leaked, was refused).
    Action = 7,
    /// `lumio audit verify`: the audit chain has a record changed, removed or inserted.
    Tampered = 8,
}

impl Failure {
    /// The class of an HTTP error status from the server.
    pub fn of_status(status: u16) -> Self {
        match status {
            401 | 403 => Self::Auth,
            404 => Self::NotFound,
            409 | 412 => Self::Conflict,
            429 | 502..=504 => Self::Unavailable,
            _ => Self::General,
        }
    }
}

/// An error meant for the user, with an optional next step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError {
    pub message: String,
    pub hint: Option<String>,
    /// The server's error code (`unauthorized`, `not_found`, …) when the server sent one.
    pub code: Option<ErrorCode>,
    pub failure: Failure,
    /// The command already printed its JSON answer for this failure (`run`'s error body,
    /// `audit verify`'s report), so `--json` adds no second object.
    pub json_printed: bool,
}

impl CliError {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            hint: None,
            code: None,
            failure: Failure::General,
            json_printed: false,
        }
    }

    /// Bad input on the command line (exit status 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(message).with_failure(Failure::Usage)
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn with_failure(mut self, failure: Failure) -> Self {
        self.failure = failure;
        self
    }

    /// Marks the failure's JSON answer as printed already (see [`CliError::json_printed`]).
    pub fn with_json_printed_if(mut self, printed: bool) -> Self {
        self.json_printed = printed;
        self
    }
}

impl Failure {
    /// The `code` of a `--json` error object when the server sent none.
    fn code(self) -> &'static str {
        match self {
            Self::General => "failed",
            Self::Usage => "usage",
            Self::Auth => "unauthorized",
            Self::NotFound => "not_found",
            Self::Conflict => "conflict",
            Self::Unavailable => "unavailable",
            Self::Action => "action_error",
            Self::Tampered => "tampered",
        }
    }
}

/// The exit status for an error: its [`CliError`]'s class, else [`Failure::General`].
pub fn exit_status(err: &anyhow::Error) -> u8 {
    err.chain()
        .find_map(|cause| cause.downcast_ref::<CliError>())
        .map_or(Failure::General, |cli| cli.failure) as u8
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

/// `lumio env diff` found differences: exit status 1 with nothing on stderr, as `diff`
/// does, so CI can fail on it. (The differences were already printed.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Differences;

impl fmt::Display for Differences {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the environments differ")
    }
}

impl std::error::Error for Differences {}

/// `lumio env due` found a secret expired or a rotation overdue: exit status 1 with
/// nothing more on stderr, so CI fails on it. (The list was already printed.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NeedsAttention;

impl fmt::Display for NeedsAttention {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a secret expired or is overdue for rotation")
    }
}

impl std::error::Error for NeedsAttention {}

/// Whether the error is stdout closing under us (`lumio env list | head`): not a failure.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Writes the error to stderr as one `error:` line and at most one `hint:` line; with
/// `json`, also one JSON error object on stdout (the server's error shape:
/// `{"error": {"code", "message", "hint"}}`), unless the command printed its own.
pub fn report(err: &anyhow::Error, json: bool) {
    let (message, hint) = message_and_hint(err);
    let cli = err
        .chain()
        .find_map(|cause| cause.downcast_ref::<CliError>());
    if json && !cli.is_some_and(|cli| cli.json_printed) {
        let failure = cli.map_or(Failure::General, |cli| cli.failure);
        let code = cli
            .and_then(|cli| cli.code)
            .map_or(failure.code(), |code| code.as_str());
        let mut detail = serde_json::json!({"code": code, "message": message});
        if let Some(hint) = &hint {
            detail["hint"] = hint.as_str().into();
        }
        let object = serde_json::json!({ "error": detail });
        // stdout may be gone (`| head`); the stderr lines below still say what failed.
        let _ = writeln!(std::io::stdout().lock(), "{object:#}");
    }
    let mut stderr = std::io::stderr().lock();
    // Nothing sensible is left to do if stderr itself is gone.
    let _ = writeln!(stderr, "error: {message}");
    if let Some(hint) = hint {
        let _ = writeln!(stderr, "hint: {hint}");
    }
}

/// The error's message and hint, each folded onto one line.
fn message_and_hint(err: &anyhow::Error) -> (String, Option<String>) {
    let text = format!("{err:#}");
    // Library errors (e.g. the server's startup) may carry their hint as a last
    // "\nhint: …" line; it becomes our hint line rather than part of the message.
    let (message, inline_hint) = match text.split_once("\nhint: ") {
        Some((message, hint)) => (message, Some(hint)),
        None => (text.as_str(), None),
    };
    let hint = err
        .chain()
        .find_map(|cause| cause.downcast_ref::<CliError>())
        .and_then(|cli| cli.hint.as_deref())
        .or(inline_hint);
    (one_line(message), hint.map(one_line))
}

/// Folds line breaks and other control characters into spaces, so the promise of one
/// line holds even for a multi-line message from a server or the OS.
fn one_line(text: &str) -> String {
    let folded: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    folded.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn messages_are_one_line() {
        assert_eq!(one_line("line 3:\nbad\r\n"), "line 3: bad");
    }

    #[test]
    fn hint_is_found_under_context() {
        let err = Err::<(), _>(CliError::new("inner").with_hint("do this"))
            .context("outer")
            .unwrap_err();
        assert_eq!(format!("{err:#}"), "outer: inner");
        let hint = err
            .chain()
            .find_map(|c| c.downcast_ref::<CliError>())
            .and_then(|c| c.hint.clone());
        assert_eq!(hint.as_deref(), Some("do this"));
    }
}
