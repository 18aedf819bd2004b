//! A JSON extractor whose rejections use the API's error shape.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
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

fn reject(rejection: JsonRejection) -> AppError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return AppError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            code: "too_large",
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

/// Serde quotes offending input between backticks (`invalid type: string `sk-…``); that
/// input may be a secret, so it is cut out. Field names and positions stay.
fn without_quoted_input(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut inside = false;
    for c in message.chars() {
        if c == '`' {
            if !inside {
                out.push_str("`…`");
            }
            inside = !inside;
        } else if !inside {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn quoted_input_is_cut() {
        let msg = "value: invalid type: integer `424242`, expected a string at line 1 column 15";
        let cleaned = super::without_quoted_input(msg);
        assert!(!cleaned.contains("424242"));
        assert!(cleaned.contains("expected a string at line 1 column 15"));
    }
}
