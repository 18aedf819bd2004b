//! One error type for every page handler, shown as a page with a status, a message that
//! says what happened and a hint that says what to do. No message holds a secret value.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use lumio_api::ErrorCode;
use lumio_secrets::{ErrorKind, ServiceError};

use crate::views;

/// Why a page could not be shown or a form not applied.
#[derive(Debug)]
pub(crate) enum PageError {
    /// A form arrived without this session's CSRF token.
    Csrf,
    /// The service refused or failed.
    Service(ServiceError),
}

impl From<ServiceError> for PageError {
    fn from(err: ServiceError) -> Self {
        Self::Service(err)
    }
}

impl From<lumio_core::InvalidId> for PageError {
    fn from(err: lumio_core::InvalidId) -> Self {
        Self::Service(err.into())
    }
}

/// The status a service error is shown with: the API's for the same kind of error.
pub(crate) fn status_of(err: &ServiceError) -> StatusCode {
    StatusCode::from_u16(ErrorCode::from(err.kind()).status())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// What someone at the dashboard can do about it (the API's hints name CLI commands).
fn hint_of(err: &ServiceError) -> Option<&'static str> {
    Some(match err.kind() {
        ErrorKind::Unauthorized => "Sign in again with a valid token.",
        ErrorKind::NotFound => match err {
            ServiceError::NotFound(what) if what.starts_with("extension") => {
                "Go back to the list of extensions; only those your token may see are there."
            }
            _ => "Go back to the Secrets page to see the secrets of this environment.",
        },
        ErrorKind::Forbidden => match err {
            ServiceError::OutOfScope { .. } => "Your token works in one environment only; switch back, or sign in with a token for this one.",
            ServiceError::Forbidden { needed, .. } if needed.starts_with("an instance admin") => "Sign in with an instance-admin token.",
            _ => "Ask an owner of the extension for a token with a stronger role, then sign in with it.",
        },
        ErrorKind::Invalid => "Correct the form and submit it again.",
        ErrorKind::Conflict => match err {
            ServiceError::LastAdminToken(_) => "Create another admin token first, sign in with it, then revoke this one.",
            _ => "Someone changed this first: reload the page to see the current state, then try again.",
        },
        ErrorKind::Limit => "Delete secrets you no longer use, then try again.",
        ErrorKind::Unprocessable => "Pick the other environment and try again.",
        ErrorKind::StaffNotMember => "Ask the owner for support access (`lumio access request`); they approve it on this extension's page.",
        ErrorKind::Suspended => "An instance admin resumes it with `lumio extensions resume NAME`.",
        ErrorKind::Unavailable => "Nothing was changed. Try again in a moment; if it persists, tell the operator.",
        ErrorKind::Internal => "Tell the operator; the server log has the details.",
    })
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, title, message, hint) = match &self {
            Self::Csrf => (
                StatusCode::FORBIDDEN,
                "Form refused",
                "This form did not come from your current dashboard session.".to_owned(),
                Some("Go back, reload the page and submit the form again.".to_owned()),
            ),
            Self::Service(err) => {
                let status = status_of(err);
                if status.is_server_error() {
                    tracing::warn!(error = %err, "dashboard request failed");
                }
                let title = match status {
                    StatusCode::NOT_FOUND => "Not found",
                    StatusCode::FORBIDDEN => "Not allowed",
                    s if s.is_server_error() => "Something went wrong",
                    _ => "Cannot do that",
                };
                // For a server-side fault, a stable sentence: the cause is in the log.
                let message = match err.public_message() {
                    Some(sentence) => sentence.to_owned(),
                    None => err.to_string(),
                };
                (status, title, message, hint_of(err).map(str::to_owned))
            }
        };
        (status, views::error::page(title, &message, hint.as_deref())).into_response()
    }
}
