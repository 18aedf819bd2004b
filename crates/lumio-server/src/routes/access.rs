//! `/api/v1/extensions/{ext}/access`: staff ask an extension's owner for support access;
//! the owner approves; the grant ends on time or when revoked.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use lumio_api::extensions::{AccessList, AccessView, RequestAccess};
use lumio_api::params::{AccessPath, ExtPath};
use lumio_core::{ExtensionSlug, TokenLifetime};
use lumio_secrets::AccessRequest;

use super::extensions::slug;
use crate::api_error::AppError;
use crate::auth::Authed;
use crate::json::{ApiJson, ApiPath};
use crate::AppState;

/// `request` as the API shows it, its status as of `now` (the service's clock).
fn view(request: AccessRequest, now: DateTime<Utc>) -> AccessView {
    let status = request.status(now);
    AccessView {
        id: request.id,
        staff: request.staff,
        reason: request.reason,
        duration_secs: request.duration_secs,
        status: status.to_owned(),
        created_at: request.created_at,
        approved_at: request.approved_at,
        approved_by: request.approved_by,
        expires_at: request.expires_at,
        revoked_at: request.revoked_at,
        revoked_by: request.revoked_by,
    }
}

fn access_slug(path: &AccessPath) -> Result<ExtensionSlug, AppError> {
    ExtensionSlug::parse(&path.ext).map_err(|e| AppError::invalid(e.to_string()))
}

/// Support requests of an extension, newest first (its owners, and staff).
#[utoipa::path(get, path = "/api/v1/extensions/{ext}/access", tag = "access",
    security(("bearer" = [])), params(ExtPath), responses((status = 200, body = AccessList)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    Authed(ctx): Authed,
    ApiPath(path): ApiPath<ExtPath>,
) -> Result<Json<AccessList>, AppError> {
    let (_, requests) = state.service.list_access(&ctx, &slug(&path)?).await?;
    let now = state.service.now();
    Ok(Json(AccessList {
        requests: requests
            .into_iter()
            .map(|request| view(request, now))
            .collect(),
    }))
}

/// An instance admin asks the owner for support access (a developer role there for the
/// duration, from the owner's approval).
#[utoipa::path(post, path = "/api/v1/extensions/{ext}/access", tag = "access",
    security(("bearer" = [])), params(ExtPath), request_body = RequestAccess,
    responses((status = 201, body = AccessView),
        (status = 422, body = lumio_api::ErrorBody, description = "longer than support access may last (7d)")))]
pub(crate) async fn request(
    State(state): State<AppState>,
    Authed(ctx): Authed,
    ApiPath(path): ApiPath<ExtPath>,
    ApiJson(body): ApiJson<RequestAccess>,
) -> Result<(StatusCode, Json<AccessView>), AppError> {
    let duration =
        TokenLifetime::parse(&body.duration).map_err(|e| AppError::invalid(e.to_string()))?;
    let request = state
        .service
        .request_access(&ctx, &slug(&path)?, &body.reason, duration)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(view(request, state.service.now())),
    ))
}

/// The owner approves a pending request.
#[utoipa::path(post, path = "/api/v1/extensions/{ext}/access/{id}/approve", tag = "access",
    security(("bearer" = [])), params(AccessPath), responses((status = 200, body = AccessView)))]
pub(crate) async fn approve(
    State(state): State<AppState>,
    Authed(ctx): Authed,
    ApiPath(path): ApiPath<AccessPath>,
) -> Result<Json<AccessView>, AppError> {
    let request = state
        .service
        .approve_access(&ctx, &access_slug(&path)?, &path.id)
        .await?;
    Ok(Json(view(request, state.service.now())))
}

/// Ends a request or a grant at once (the owner, or the admin token that asked).
#[utoipa::path(post, path = "/api/v1/extensions/{ext}/access/{id}/revoke", tag = "access",
    security(("bearer" = [])), params(AccessPath), responses((status = 200, body = AccessView)))]
pub(crate) async fn revoke(
    State(state): State<AppState>,
    Authed(ctx): Authed,
    ApiPath(path): ApiPath<AccessPath>,
) -> Result<Json<AccessView>, AppError> {
    let request = state
        .service
        .revoke_access(&ctx, &access_slug(&path)?, &path.id)
        .await?;
    Ok(Json(view(request, state.service.now())))
}
