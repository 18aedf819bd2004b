//! Body, query and path extractors whose rejections use the API's error shape (axum's own
//! answer in plain text, which no client generated from the document could read).

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use crate::api_error::AppError;

/// Like `axum::Json`, but a bad body answers with [`AppError`].
pub(crate) struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(reject(rejection)),
        }
    }
}

/// Like `axum::extract::Query`, but a bad query string answers with [`AppError`].
pub(crate) struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Self(value)),
            Err(rejection) => Err(AppError::invalid(format!(
                "query string does not match: {}",
                without_quoted_input(&rejection.body_text())
            ))
            .with_hint("see /api/v1/openapi.json for each route's parameters")),
        }
    }
}

/// Like `axum::extract::Path`, but a bad segment answers with [`AppError`].
pub(crate) struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Self(value)),
            Err(_) => Err(AppError::invalid(
                "malformed path: a segment is not valid percent-encoded UTF-8",
            )),
        }
    }
}

fn reject(rejection: JsonRejection) -> AppError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return AppError {
            code: lumio_api::ErrorCode::TooLarge,
            message: "request body is too large".to_owned(),
            hint: Some("secret values are limited to 64 KiB; split large imports".to_owned()),
        };
    }
    let message = match &rejection {
        JsonRejection::MissingJsonContentType(_) => {
            "request body must be JSON with Content-Type: application/json".to_owned()
        }
        JsonRejection::JsonDataError(err) => {
            format!(
                "request body does not match: {}",
                without_quoted_input(&err.body_text())
            )
        }
        _ => "request body is not valid UTF-8 JSON".to_owned(),
    };
    AppError::invalid(message).with_hint("see /api/v1/openapi.json for the request shapes")
}

/// Serde quotes offending input between backticks (`invalid type: integer `42``) or, for
/// strings, in double quotes with escapes (`invalid type: string "sk-…"`); that input may
/// be a secret, so it is cut out. Field names and positions stay.
fn without_quoted_input(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut chars = message.chars();
    while let Some(c) = chars.next() {
        match c {
            '`' => {
                out.push_str("`…`");
                chars.by_ref().find(|&c| c == '`');
            }
            '"' => {
                out.push_str("\"…\"");
                // A Debug-quoted string: `\"` and `\\` inside do not end it.
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            chars.next();
                        }
                        '"' => break,
                        _ => {}
                    }
                }
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn double_quoted_input_is_cut() {
        let msg = r#"version: invalid type: string "sk-live-\"PLANTED\\", expected a whole number at line 1 column 30"#;
        let cleaned = super::without_quoted_input(msg);
        assert!(!cleaned.contains("PLANTED"), "{cleaned}");
        assert!(
            cleaned.contains("expected a whole number at line 1 column 30"),
            "{cleaned}"
        );
    }

    #[test]
    fn quoted_input_is_cut() {
        let msg = "value: invalid type: integer `424242`, expected a string at line 1 column 15";
        let cleaned = super::without_quoted_input(msg);
        assert!(!cleaned.contains("424242"));
        assert!(cleaned.contains("expected a string at line 1 column 15"));
    }
}
