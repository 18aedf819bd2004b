//! `/api/v1/extensions`: list, create (with a claim code), delete, suspend, resume; and
//! `/api/v1/claims`, where a customer redeems a claim code for the owner token.

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension as Ext, Json};
use lumio_api::extensions::{
    ClaimCodeView, Claimed, CreateExtension, ExtensionDeleted, ExtensionList, ExtensionView,
    IssueClaimCode, RedeemClaim,
};
use lumio_api::params::ExtPath;
use lumio_api::ErrorBody;
use lumio_core::{ExtensionSlug, TokenLifetime};
use lumio_secrets::ClaimCode;
use lumio_secrets::Extension;

use crate::api_error::AppError;
use crate::auth::Authed;
use crate::json::{ApiJson, ApiPath};
use crate::request_id::RequestId;
use crate::AppState;

pub(crate) fn extension_view(extension: Extension) -> ExtensionView {
    ExtensionView {
        name: extension.slug.as_str().to_owned(),
        created_at: extension.created_at,
        claimed_at: extension.claimed_at,
        claimed_by: extension.claimed_by,
        suspended_at: extension.suspended_at,
    }
}

pub(crate) fn slug(path: &ExtPath) -> Result<ExtensionSlug, AppError> {
    ExtensionSlug::parse(&path.ext).map_err(|e| AppError::invalid(e.to_string()))
}

fn lifetime(given: Option<&str>) -> Result<Option<TokenLifetime>, AppError> {
    given
        .map(TokenLifetime::parse)
        .transpose()
        .map_err(|e| AppError::invalid(e.to_string()))
}

fn claim_view(claim: ClaimCode) -> ClaimCodeView {
    ClaimCodeView {
        extension: extension_view(claim.extension),
        claim_code: claim.code.to_string(),
        claim_expires_at: claim.expires_at,
    }
}

/// The extensions this token may see.
#[utoipa::path(get, path = "/api/v1/extensions", tag = "extensions", security(("bearer" = [])),
    responses((status = 200, body = ExtensionList)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    Authed(ctx): Authed,
) -> Result<Json<ExtensionList>, AppError> {
    let extensions = state.service.list_extensions(&ctx).await?;
    Ok(Json(ExtensionList {
        extensions: extensions.into_iter().map(extension_view).collect(),
    }))
}

/// Creates an extension (instance admins) and answers its one-time claim code: the
/// customer redeems it for the owner token, so staff never hold that token.
#[utoipa::path(post, path = "/api/v1/extensions", tag = "extensions", security(("bearer" = [])), request_body = CreateExtension,
    responses((status = 201, body = ClaimCodeView), (status = 409, body = ErrorBody, description = "an extension by that name exists")))]
pub(crate) async fn create(
    State(state): State<AppState>,
    Authed(ctx): Authed,
    ApiJson(body): ApiJson<CreateExtension>,
) -> Result<(StatusCode, Json<ClaimCodeView>), AppError> {
    let slug = ExtensionSlug::parse(&body.name).map_err(|e| AppError::invalid(e.to_string()))?;
    let lifetime = lifetime(body.claim_expires_in.as_deref())?;
    let claim = state
        .service
        .create_extension(&ctx, &slug, lifetime)
        .await?;
    Ok((StatusCode::CREATED, Json(claim_view(claim))))
}

/// A new claim code for an extension nobody has claimed yet (instance admins).
#[utoipa::path(post, path = "/api/v1/extensions/{ext}/claim-code", tag = "extensions",
    security(("bearer" = [])), params(ExtPath), request_body = IssueClaimCode,
    responses((status = 201, body = ClaimCodeView), (status = 409, body = ErrorBody, description = "the extension has an owner already")))]
pub(crate) async fn claim_code(
    State(state): State<AppState>,
    Authed(ctx): Authed,
    ApiPath(path): ApiPath<ExtPath>,
    ApiJson(body): ApiJson<IssueClaimCode>,
) -> Result<(StatusCode, Json<ClaimCodeView>), AppError> {
    let lifetime = lifetime(body.claim_expires_in.as_deref())?;
    let claim = state
        .service
        .issue_claim_code(&ctx, &slug(&path)?, lifetime)
        .await?;
    Ok((StatusCode::CREATED, Json(claim_view(claim))))
}

/// Redeems a claim code for the extension's owner token (shown once). No bearer token:
/// the code is the credential, and it works once.
#[utoipa::path(post, path = "/api/v1/claims", tag = "extensions", request_body = RedeemClaim,
    responses((status = 201, body = Claimed), (status = 409, body = ErrorBody, description = "the code was used or expired, or the extension has an owner")))]
pub(crate) async fn claim(
    State(state): State<AppState>,
    Ext(request_id): Ext<RequestId>,
    ApiJson(body): ApiJson<RedeemClaim>,
) -> Result<(StatusCode, Json<Claimed>), AppError> {
    let label = body.label.map(|l| l.chars().take(100).collect());
    let claimed = state
        .service
        .claim_extension(&request_id.0, &body.code, label)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(Claimed {
            extension: extension_view(claimed.extension),
            token: claimed.token.token.to_string(),
            token_id: claimed.token.record.id.clone(),
        }),
    ))
}

/// Deletes an extension with every secret version, deployment, token and audit record
/// (instance admins). Nothing of it can be read afterwards.
#[utoipa::path(delete, path = "/api/v1/extensions/{ext}", tag = "extensions",
    security(("bearer" = [])), params(ExtPath), responses((status = 200, body = ExtensionDeleted)))]
pub(crate) async fn delete(
    State(state): State<AppState>,
    Authed(ctx): Authed,
    ApiPath(path): ApiPath<ExtPath>,
) -> Result<Json<ExtensionDeleted>, AppError> {
    let slug = slug(&path)?;
    state.service.delete_extension(&ctx, &slug).await?;
    Ok(Json(ExtensionDeleted {
        deleted: slug.to_string(),
    }))
}

/// Suspends an extension (instance admins): its actions answer `extension_suspended`.
#[utoipa::path(put, path = "/api/v1/extensions/{ext}/suspension", tag = "extensions",
    security(("bearer" = [])), params(ExtPath), responses((status = 200, body = ExtensionView)))]
pub(crate) async fn suspend(
    State(state): State<AppState>,
    Authed(ctx): Authed,
    ApiPath(path): ApiPath<ExtPath>,
) -> Result<Json<ExtensionView>, AppError> {
    let extension = state
        .service
        .set_suspended(&ctx, &slug(&path)?, true)
        .await?;
    Ok(Json(extension_view(extension)))
}

/// Resumes a suspended extension (instance admins).
#[utoipa::path(delete, path = "/api/v1/extensions/{ext}/suspension", tag = "extensions",
    security(("bearer" = [])), params(ExtPath), responses((status = 200, body = ExtensionView)))]
pub(crate) async fn resume(
    State(state): State<AppState>,
    Authed(ctx): Authed,
    ApiPath(path): ApiPath<ExtPath>,
) -> Result<Json<ExtensionView>, AppError> {
    let extension = state
        .service
        .set_suspended(&ctx, &slug(&path)?, false)
        .await?;
    Ok(Json(extension_view(extension)))
}
