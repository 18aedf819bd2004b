//! The one error shape: `{"error": {"code", "message", "hint"}}`, and the codes in it.

use lumio_core::{ActionErrorCode, ErrorKind};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A stable, machine-readable reason. Each code has one HTTP status wherever it is
/// answered (API and dashboard alike), given by [`ErrorCode::status`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// No token, or one that is unknown, revoked or expired.
    Unauthorized,
    /// The role is too weak, or the token is scoped to another environment.
    Forbidden,
    /// No such extension, secret, version, token, action or endpoint.
    NotFound,
    /// A malformed name, body or query.
    Invalid,
    /// The thing exists already, or the change would lock everyone out.
    Conflict,
    /// Over a limit (e.g. secrets per environment).
    Limit,
    /// Well-formed, but it cannot be done as asked (an environment compared with itself).
    Unprocessable,
    /// The request body is over the size limit.
    TooLarge,
    /// Too many calls of an extension's actions; see `Retry-After`.
    RateLimited,
    /// The deployed code does not compile (422); the active deployment is unchanged.
    DeployError,
    /// The database or the audit log cannot be written; nothing was changed.
    Unavailable,
    /// Lumio failed; the server log has the cause.
    Internal,
    /// An action's arguments do not match its validators.
    InvalidArgs,
    /// The action threw; the message is its own.
    ActionError,
    /// The action's answer held a secret's value, so it was withheld.
    SecretLeak,
    /// The action ran out of CPU or wall time.
    Timeout,
    /// The action ran out of memory.
    OutOfMemory,
    /// The action recursed too deep.
    StackOverflow,
    /// The action hit a per-invocation count limit.
    LimitExceeded,
    /// The audit log could not record the action's reads, so nothing it read left.
    AuditUnavailable,
    /// `ctx.fetch` was refused (private address, scheme, egress binding).
    FetchRefused,
    /// A `ctx.fetch` the action did not catch failed (no such host, refused, no answer);
    /// which host and why is in the extension's logs, not in this answer.
    FetchFailed,
    /// Too many invocations are waiting; this one was not started.
    Overloaded,
    /// An instance admin tried to write or run code in an extension that has an owner;
    /// staff need the owner's approval (`lumio access request`).
    StaffNotMember,
    /// The extension is suspended by the platform's staff; its actions do not run.
    ExtensionSuspended,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 25] = [
        Self::Unauthorized,
        Self::Forbidden,
        Self::NotFound,
        Self::Invalid,
        Self::Conflict,
        Self::Limit,
        Self::Unprocessable,
        Self::TooLarge,
        Self::RateLimited,
        Self::DeployError,
        Self::Unavailable,
        Self::Internal,
        Self::InvalidArgs,
        Self::ActionError,
        Self::SecretLeak,
        Self::Timeout,
        Self::OutOfMemory,
        Self::StackOverflow,
        Self::LimitExceeded,
        Self::AuditUnavailable,
        Self::FetchRefused,
        Self::FetchFailed,
        Self::Overloaded,
        Self::StaffNotMember,
        Self::ExtensionSuspended,
    ];

    /// The HTTP status this code is always answered with.
    pub fn status(self) -> u16 {
        match self {
            Self::Invalid | Self::InvalidArgs => 400,
            Self::Unauthorized => 401,
            Self::Forbidden | Self::StaffNotMember | Self::ExtensionSuspended => 403,
            Self::NotFound => 404,
            Self::Conflict => 409,
            Self::TooLarge => 413,
            Self::Limit | Self::Unprocessable | Self::DeployError => 422,
            Self::RateLimited => 429,
            Self::FetchFailed => 502,
            Self::Unavailable | Self::AuditUnavailable | Self::Overloaded => 503,
            Self::Internal
            | Self::ActionError
            | Self::SecretLeak
            | Self::Timeout
            | Self::OutOfMemory
            | Self::StackOverflow
            | Self::LimitExceeded
            | Self::FetchRefused => 500,
        }
    }

    /// The wire name, e.g. `not_found`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::Invalid => "invalid",
            Self::Conflict => "conflict",
            Self::Limit => "limit",
            Self::Unprocessable => "unprocessable",
            Self::TooLarge => "too_large",
            Self::RateLimited => "rate_limited",
            Self::DeployError => "deploy_error",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
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
            Self::Overloaded => "overloaded",
            Self::StaffNotMember => "staff_not_member",
            Self::ExtensionSuspended => "extension_suspended",
        }
    }
}

/// The one table from a service error's kind to its code, and so to its status: the API
/// and the dashboard answer a kind alike.
impl From<ErrorKind> for ErrorCode {
    fn from(kind: ErrorKind) -> Self {
        match kind {
            ErrorKind::Unauthorized => Self::Unauthorized,
            ErrorKind::NotFound => Self::NotFound,
            ErrorKind::Forbidden => Self::Forbidden,
            ErrorKind::Invalid => Self::Invalid,
            ErrorKind::Conflict => Self::Conflict,
            ErrorKind::Limit => Self::Limit,
            ErrorKind::Unprocessable => Self::Unprocessable,
            ErrorKind::StaffNotMember => Self::StaffNotMember,
            ErrorKind::Suspended => Self::ExtensionSuspended,
            ErrorKind::Unavailable => Self::Unavailable,
            ErrorKind::Internal => Self::Internal,
        }
    }
}

/// The same table's half for a failed action invocation: the runtime's codes keep their
/// wire names, so logs, metrics and answers say the same.
impl From<ActionErrorCode> for ErrorCode {
    fn from(code: ActionErrorCode) -> Self {
        use ActionErrorCode as Action;
        match code {
            Action::NotFound => Self::NotFound,
            Action::InvalidArgs => Self::InvalidArgs,
            Action::ActionError => Self::ActionError,
            Action::SecretLeak => Self::SecretLeak,
            Action::Timeout => Self::Timeout,
            Action::OutOfMemory => Self::OutOfMemory,
            Action::StackOverflow => Self::StackOverflow,
            Action::LimitExceeded => Self::LimitExceeded,
            Action::AuditUnavailable => Self::AuditUnavailable,
            Action::Unavailable => Self::Unavailable,
            Action::FetchRefused => Self::FetchRefused,
            Action::FetchFailed => Self::FetchFailed,
            Action::Overloaded => Self::Overloaded,
            Action::Internal => Self::Internal,
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error answer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    pub code: ErrorCode,
    /// For people; never holds a secret's value or an internal cause.
    pub message: String,
    /// The next step, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::ErrorCode;
    use lumio_core::{ActionErrorCode, ErrorKind};

    /// Each kind's code and status, as clients and the dashboard see them.
    #[test]
    fn error_kinds_keep_their_code_and_status() {
        for (kind, code, status) in [
            (ErrorKind::Unauthorized, "unauthorized", 401),
            (ErrorKind::NotFound, "not_found", 404),
            (ErrorKind::Forbidden, "forbidden", 403),
            (ErrorKind::Invalid, "invalid", 400),
            (ErrorKind::Conflict, "conflict", 409),
            (ErrorKind::Limit, "limit", 422),
            (ErrorKind::Unprocessable, "unprocessable", 422),
            (ErrorKind::StaffNotMember, "staff_not_member", 403),
            (ErrorKind::Suspended, "extension_suspended", 403),
            (ErrorKind::Unavailable, "unavailable", 503),
            (ErrorKind::Internal, "internal", 500),
        ] {
            assert_eq!(ErrorCode::from(kind).as_str(), code, "{kind:?}");
            assert_eq!(ErrorCode::from(kind).status(), status, "{kind:?}");
        }
    }

    /// A failed invocation's code keeps its wire name, so logs, metrics and answers agree.
    #[test]
    fn action_error_codes_keep_their_wire_names() {
        use ActionErrorCode as Action;
        for code in [
            Action::NotFound,
            Action::InvalidArgs,
            Action::ActionError,
            Action::SecretLeak,
            Action::Timeout,
            Action::OutOfMemory,
            Action::StackOverflow,
            Action::LimitExceeded,
            Action::AuditUnavailable,
            Action::Unavailable,
            Action::FetchRefused,
            Action::FetchFailed,
            Action::Overloaded,
            Action::Internal,
        ] {
            assert_eq!(ErrorCode::from(code).as_str(), code.as_str());
            let json = serde_json::to_value(code).unwrap();
            assert_eq!(json, code.as_str());
        }
    }

    #[test]
    fn wire_names_are_the_serde_names() {
        for code in ErrorCode::ALL {
            let json = serde_json::to_value(code).unwrap();
            assert_eq!(json, code.as_str());
            let back: ErrorCode = serde_json::from_value(json).unwrap();
            assert_eq!(back, code);
        }
    }
}
