//! The one error shape of the API: `{"error": {"code", "message", "hint"}}`. The message is
//! for the client; causes that only an operator should see are logged, not returned.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use lumio_actions::ActionsError;
use lumio_api::{ErrorBody, ErrorCode, ErrorDetail};
use lumio_secrets::ServiceError;

/// An error answer; its status is the code's ([`ErrorCode::status`]).
#[derive(Debug)]
pub(crate) struct AppError {
    pub code: ErrorCode,
    pub message: String,
    pub hint: Option<String>,
}

impl AppError {
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Invalid, message)
    }

    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl From<ServiceError> for AppError {
    fn from(err: ServiceError) -> Self {
        let message = match err.public_message() {
            Some(sentence) => {
                // The cause goes to the operator's log; the client gets a stable sentence.
                tracing::error!(error = %err, "request failed");
                sentence.to_owned()
            }
            None => err.to_string(),
        };
        Self {
            code: err.kind().into(),
            hint: api_hint(&err),
            message,
        }
    }
}

/// The next step for an API client. API clients are mostly the `lumio` CLI and scripts
/// around it, so hints name its commands; the dashboard has hints of its own.
fn api_hint(err: &ServiceError) -> Option<String> {
    use ServiceError as E;
    let hint = match err {
        E::Unauthorized => "pass a token with --token or LUMIO_TOKEN, or run `lumio login --url URL --token TOKEN`",
        E::NotFound(what) if what.starts_with("extension") => {
            "run `lumio extensions list` to see the extensions your token can reach"
        }
        E::NotFound(what) if what.starts_with("token") => {
            "run `lumio tokens list` to see the tokens you may revoke"
        }
        E::NotFound(what) if what.starts_with("webhook") => {
            "run `lumio webhooks list` to see the extension's webhooks"
        }
        E::NotFound(what) if what.starts_with("finished delivery") => {
            "run `lumio webhooks deliveries` to see the deliveries and their ids"
        }
        E::NotFound(_) => "run `lumio env list` to see the secrets of this environment",
        E::NotInSource { environment, .. } => {
            return Some(format!(
                "run `lumio env list --env {environment}` to see the secrets you can copy"
            ))
        }
        E::Forbidden { needed, .. } if needed.starts_with("an instance admin") => {
            "use an instance-admin token (`--token \"$(cat .lumio/admin-token)\"` on the server's machine, or one from `lumio tokens create --admin`)"
        }
        E::Forbidden { .. } => "ask an owner of the extension for a token with a stronger role",
        E::OutOfScope { .. } => "use a token for that environment (`lumio tokens create … --env ENV`) or one without an environment scope",
        E::StaffNotMember { extension, .. } => {
            return Some(format!(
                "ask the owner for support access: `lumio access request --extension {extension} --reason \"…\" --for 1h`, which they approve with `lumio access approve ID`"
            ))
        }
        E::Suspended(_) => "an instance admin resumes it with `lumio extensions resume NAME`",
        E::ClaimRefused(_) => "ask the Lumio admin who created the extension for a new claim code (`lumio extensions claim-code NAME`)",
        E::LastAdminToken(_) => "create another admin token first (`lumio tokens create --admin`), sign in with it, then revoke this one",
        E::Limit(what) if what.starts_with("support access") => {
            "ask for 7d or less (`--for 7d`), and again when it ends"
        }
        E::Limit(_) => "delete secrets you no longer use with `lumio env delete NAME`",
        E::SameEnvironment(_) => "name the other environment (staging or production)",
        E::DueDates(_) => "expiries are judged by the server's clock: `--expires-in 90d` (expires_in_secs) is counted from its now",
        E::Audit(_) => "check the database behind Lumio; the operation can be retried once it is back",
        other => return other.startup_hint().map(str::to_owned),
    };
    Some(hint.to_owned())
}

impl From<ActionsError> for AppError {
    fn from(err: ActionsError) -> Self {
        match err {
            ActionsError::Service(err) => err.into(),
            ActionsError::Deploy(message) => Self {
                code: ErrorCode::DeployError,
                message,
                hint: Some(
                    "fix the code and deploy again; the active deployment is unchanged".to_owned(),
                ),
            },
            ActionsError::InvalidUpload(message) | ActionsError::InvalidRequest(message) => {
                Self::invalid(message)
            }
            ActionsError::Runtime(cause) => {
                tracing::error!(%cause, "action runtime failed");
                Self::new(
                    ErrorCode::Internal,
                    "internal error; the server log has the details",
                )
            }
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message,
                hint: self.hint,
            },
        };
        let status =
            StatusCode::from_u16(self.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let unavailable = self.code == ErrorCode::Unavailable;
        let mut response = (status, Json(body)).into_response();
        if unavailable {
            // The database or audit log is away (a failover takes about a second here).
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, 1.into());
        }
        response
    }
}

/// A 429 `rate_limited` answer with `Retry-After` in whole seconds (at least one).
pub(crate) fn rate_limited(message: String, wait: std::time::Duration) -> Response {
    let mut response = AppError {
        code: ErrorCode::RateLimited,
        message,
        hint: None,
    }
    .into_response();
    let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
    response
        .headers_mut()
        .insert(axum::http::header::RETRY_AFTER, seconds.into());
    response
}
