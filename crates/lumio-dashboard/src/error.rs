//! One error type for every page handler, shown as a page with a status, a message that
//! says what happened and a hint that says what to do. No message holds a secret value.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use lumio_secrets::ServiceError;

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

/// The status a service error is shown with.
pub(crate) fn status_of(err: &ServiceError) -> StatusCode {
    match err {
        ServiceError::Unauthorized => StatusCode::UNAUTHORIZED,
        ServiceError::NotFound(_) => StatusCode::NOT_FOUND,
        ServiceError::Forbidden { .. } | ServiceError::OutOfScope { .. } => StatusCode::FORBIDDEN,
        ServiceError::InvalidId(_)
        | ServiceError::InvalidRole(_)
        | ServiceError::InvalidHost(_)
        | ServiceError::InvalidValue(_)
        | ServiceError::Limit(_) => StatusCode::UNPROCESSABLE_ENTITY,
        ServiceError::Conflict(_) | ServiceError::LastAdminToken(_) => StatusCode::CONFLICT,
        ServiceError::Audit(_) | ServiceError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
        ServiceError::WrongMasterKey { .. }
        | ServiceError::UnfinishedRotation { .. }
        | ServiceError::WeakBootstrapToken(_)
        | ServiceError::Crypto(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// A hint for the dashboard (the service's hints name CLI commands).
fn hint_of(err: &ServiceError) -> Option<String> {
    match err {
        ServiceError::NotFound(what) if what.starts_with("extension") => Some(
            "Go back to the list of extensions; only those your token may see are there."
                .to_owned(),
        ),
        ServiceError::NotFound(_) => {
            Some("Go back to the Secrets page to see the secrets of this environment.".to_owned())
        }
        ServiceError::Forbidden { .. } => Some(
            "Ask an owner of the extension for a token with a stronger role, then sign in with it."
                .to_owned(),
        ),
        ServiceError::OutOfScope { .. } => Some(
            "Your token works in one environment only; switch back, or sign in with a token for this one."
                .to_owned(),
        ),
        other => other.hint(),
    }
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
                (status, title, err.to_string(), hint_of(err))
            }
        };
        (status, views::error::page(title, &message, hint.as_deref())).into_response()
    }
}
