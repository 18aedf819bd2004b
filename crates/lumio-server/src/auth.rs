//! The `Authorization: Bearer` extractor: every management handler takes an [`Authed`].

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use lumio_secrets::{RequestContext, ServiceError};

use crate::api_error::AppError;
use crate::request_id::RequestId;
use crate::AppState;

/// A request made with a valid token.
pub(crate) struct Authed(pub RequestContext);

/// The token of an `Authorization` value: `Bearer` in any case (RFC 9110 §11.1: the
/// scheme is case-insensitive), then one or more spaces, then the token. Surrounding
/// whitespace is not part of the value; tabs between the two are tolerated as well.
pub(crate) fn bearer_token(value: &str) -> Option<&str> {
    let value = value.trim_matches([' ', '\t']);
    let (scheme, token) = value.split_once([' ', '\t'])?;
    let token = token.trim_start_matches([' ', '\t']);
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

impl FromRequestParts<AppState> for Authed {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(bearer_token)
            .ok_or(ServiceError::Unauthorized)?;
        let principal = state.service.authenticate(token).await?;
        if let Some(accepted) = parts
            .extensions
            .get::<crate::auth_throttle::TokenAccepted>()
        {
            accepted.mark();
        }
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

#[cfg(test)]
mod tests {
    use super::bearer_token;

    #[test]
    fn the_scheme_is_case_insensitive_and_spaces_are_flexible() {
        for value in [
            "Bearer abc",
            "bearer abc",
            "BEARER abc",
            "bEaReR abc",
            "Bearer   abc",
            "Bearer\tabc",
            "  Bearer abc  ",
        ] {
            assert_eq!(bearer_token(value), Some("abc"), "{value:?}");
        }
        for value in [
            "Bearer",
            "Bearer ",
            "Basic abc",
            "Bearerabc",
            "Token abc",
            "",
        ] {
            assert_eq!(bearer_token(value), None, "{value:?}");
        }
    }
}
