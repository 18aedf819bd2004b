//! `…/secrets/{name}/due-dates`: a secret's expiry and rotation period, changed without a
//! value (no version is written, the rotation clock keeps its start); and the reading of
//! the due-date fields that a set and a list share.

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use lumio_api::params::SecretPath;
use lumio_api::secrets::{ChangeDueDates, SecretView};
use lumio_api::{ErrorBody, ErrorCode};
use lumio_core::{DueUpdate, Period, DEFAULT_DUE_WITHIN_SECS};
use lumio_secrets::{DueChange, Expiry};

use super::paths::Scope;
use super::secrets::head_view;
use crate::api_error::AppError;
use crate::auth::Authed;
use crate::json::ApiJson;
use crate::AppState;

/// Changes a secret's due dates without a new value: each field given replaces (or, null,
/// clears) what the secret has. Audited as `secret.due_dates_changed`.
#[utoipa::path(patch, path = "/api/v1/extensions/{ext}/environments/{env}/secrets/{name}/due-dates", security(("bearer" = [])),
    tag = "secrets", params(SecretPath), request_body = ChangeDueDates,
    responses((status = 200, body = SecretView),
        (status = 422, body = ErrorBody, description = "the change cannot apply (`unprocessable`): an expiry not in the future or not a time, two expiries, or nothing to change")))]
pub(crate) async fn change(
    State(state): State<AppState>,
    Authed(ctx): Authed,
    scope: Scope,
    ApiJson(body): ApiJson<ChangeDueDates>,
) -> Result<Json<SecretView>, AppError> {
    let expires = match (body.expires_at, body.expires_in_secs) {
        (Some(None), Some(_)) => {
            return Err(AppError::new(
                ErrorCode::Unprocessable,
                "expires_at is null (no expiry) and expires_in_secs is given; send one of them",
            ))
        }
        (Some(None), None) => DueUpdate::Clear,
        (at, secs) => match expiry(at.flatten(), secs)? {
            Some(expiry) => DueUpdate::Set(expiry),
            None => DueUpdate::Keep,
        },
    };
    let change = DueChange {
        expires,
        rotate_every: rotation(body.rotate_every_secs)?,
    };
    let head = state
        .service
        .change_due_dates(
            &ctx,
            &scope.extension,
            scope.environment,
            scope.name(),
            change,
        )
        .await?;
    Ok(Json(head_view(
        &head,
        state.service.now(),
        DEFAULT_DUE_WITHIN_SECS,
    )))
}

/// An expiry given as a time or as seconds from now (not both).
pub(crate) fn expiry(at: Option<String>, in_secs: Option<i64>) -> Result<Option<Expiry>, AppError> {
    match (at, in_secs) {
        (None, None) => Ok(None),
        (Some(at), None) => Ok(Some(Expiry::At(time(&at)?))),
        (None, Some(secs)) => Period::from_secs(secs)
            .map(|period| Some(Expiry::In(period)))
            .ok_or_else(|| {
                AppError::invalid(
                    "expires_in_secs must be a positive number of seconds; nothing was stored",
                )
            }),
        (Some(_), Some(_)) => Err(AppError::new(
            ErrorCode::Unprocessable,
            "both expires_at and expires_in_secs are given; send one of them",
        )),
    }
}

/// An RFC 3339 time. The schema says `date-time`, which JSON Schema does not enforce, so a
/// string that is none is well-formed JSON the server cannot use: 422.
fn time(text: &str) -> Result<DateTime<Utc>, AppError> {
    DateTime::parse_from_rfc3339(text)
        .map(|at| at.to_utc())
        .map_err(|_| {
            let shown: String = text.chars().take(40).collect();
            AppError::new(
                ErrorCode::Unprocessable,
                format!("expires_at {shown:?} is not an RFC 3339 time; give one such as 2027-01-01T00:00:00Z, or expires_in_secs"),
            )
        })
}

/// A rotation period field: absent keeps, null clears, a number of seconds sets.
pub(crate) fn rotation(secs: Option<Option<i64>>) -> Result<DueUpdate<Period>, AppError> {
    match secs {
        None => Ok(DueUpdate::Keep),
        Some(None) => Ok(DueUpdate::Clear),
        Some(Some(secs)) => Period::from_secs(secs).map(DueUpdate::Set).ok_or_else(|| {
            AppError::invalid(
                "rotate_every_secs must be a positive number of seconds (null turns rotation off); nothing was stored",
            )
        }),
    }
}

/// A list's `within` (`30d`: up to 6 digits and a unit, as its schema's pattern says), in
/// seconds; 14 days when not given. `0s` is allowed: only what has passed counts.
pub(crate) fn within_secs(within: Option<&str>) -> Result<i64, AppError> {
    let Some(text) = within else {
        return Ok(DEFAULT_DUE_WITHIN_SECS);
    };
    let refuse = || {
        AppError::invalid(
            "within must be a whole number of up to 6 digits and a unit (s, m, h, d or w), e.g. 30d",
        )
    };
    let Some(unit) = text.chars().last() else {
        return Err(refuse());
    };
    let number = &text[..text.len() - unit.len_utf8()];
    let per_unit: i64 = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        'w' => 7 * 86_400,
        _ => return Err(refuse()),
    };
    if number.is_empty() || number.len() > 6 || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(refuse());
    }
    let number: i64 = number.parse().map_err(|_| refuse())?;
    Ok(number * per_unit)
}
