//! The `Authorization: Bearer` extractor: every management handler takes an [`Authed`].

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use lumio_secrets::{RequestContext, ServiceError};

use crate::api_error::AppError;
use crate::request_id::RequestId;
use crate::AppState;

/// A request made with a valid token.
pub(crate) struct Authed(pub RequestContext);

impl FromRequestParts<AppState> for Authed {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|token| !token.is_empty())
            .ok_or(ServiceError::Unauthorized)?;
        let principal = state.service.authenticate(token).await?;
        let request_id = parts
            .extensions
            .get::<RequestId>()
            .map(|id| id.0.clone())
            .unwrap_or_default();
        Ok(Self(RequestContext {
            principal,
            request_id,
        }))
    }
}
