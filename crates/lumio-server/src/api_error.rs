//! The one error shape of the API: `{"error": {"code", "message", "hint"}}`. The message is
//! for the client; causes that only an operator should see are logged, not returned.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use lumio_actions::ActionsError;
use lumio_secrets::ServiceError;
use serde::Serialize;
use utoipa::ToSchema;

/// An error answer.
#[derive(Debug)]
pub(crate) struct AppError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub hint: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct ErrorDetail {
    /// Stable machine code: unauthorized, not_found, forbidden, invalid, conflict,
    /// too_large, limit, unavailable, internal.
    pub code: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl AppError {
    pub fn invalid(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "invalid",
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
        use ServiceError as E;
        let (status, code) = match &err {
            E::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            E::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            E::Forbidden { .. } | E::OutOfScope { .. } => (StatusCode::FORBIDDEN, "forbidden"),
            E::InvalidId(_) | E::InvalidRole(_) | E::InvalidHost(_) | E::InvalidValue(_) => {
                (StatusCode::BAD_REQUEST, "invalid")
            }
            E::Conflict(_) | E::LastAdminToken(_) => (StatusCode::CONFLICT, "conflict"),
            E::Limit(_) => (StatusCode::CONFLICT, "limit"),
            E::Audit(_) | E::Store(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            E::WrongMasterKey { .. }
            | E::UnfinishedRotation { .. }
            | E::WeakBootstrapToken(_)
            | E::Crypto(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        let message = if status.is_server_error() {
            // The cause goes to the operator's log; the client gets a stable sentence.
            tracing::error!(error = %err, "request failed");
            match &err {
                // A change commits with its audit record or not at all.
                E::Audit(_) => {
                    "the audit log could not be written, so nothing was changed".to_owned()
                }
                E::Store(_) => {
                    "Lumio's database is unavailable; nothing was changed unless stated otherwise"
                        .to_owned()
                }
                _ => "internal error; the server log has the details".to_owned(),
            }
        } else {
            err.to_string()
        };
        Self {
            status,
            code,
            message,
            hint: err.hint(),
        }
    }
}

impl From<ActionsError> for AppError {
    fn from(err: ActionsError) -> Self {
        match err {
            ActionsError::Service(err) => err.into(),
            ActionsError::Deploy(message) => Self {
                status: StatusCode::BAD_REQUEST,
                code: "deploy_error",
                message,
                hint: Some(
                    "fix the code and deploy again; the active deployment is unchanged".to_owned(),
                ),
            },
            ActionsError::InvalidUpload(message) => Self::invalid(message),
            ActionsError::Runtime(cause) => {
                tracing::error!(%cause, "action runtime failed");
                Self {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    code: "internal",
                    message: "internal error; the server log has the details".to_owned(),
                    hint: None,
                }
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
        (self.status, Json(body)).into_response()
    }
}
