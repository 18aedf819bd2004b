//! Tokens: who am I, create, list, revoke. No answer ever carries a token's secret or its
//! hash, except the one creating it (the token itself, once).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use lumio_core::{Environment, ExtensionSlug, Role, TokenLifetime};
use lumio_secrets::{TokenFor, TokenRequest, TokenSummary};
use lumio_store::Grant;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::api_error::{AppError, ErrorBody};
use crate::auth::Authed;
use crate::json::ApiJson;
use crate::AppState;

#[derive(Serialize, ToSchema)]
pub(crate) struct WhoAmI {
    token_id: String,
    admin: bool,
    extension: Option<String>,
    role: Option<String>,
    /// The one environment the token may act in; null: both.
    env: Option<String>,
    expires_at: Option<DateTime<Utc>>,
}

/// Who the presented token is.
#[utoipa::path(get, path = "/api/v1/whoami", security(("bearer" = [])),
    responses((status = 200, body = WhoAmI), (status = 401, body = ErrorBody)))]
pub(crate) async fn whoami(
    State(state): State<AppState>,
    Authed(ctx): Authed,
) -> Result<Json<WhoAmI>, AppError> {
    let (extension, role) = match &ctx.principal.grant {
        Grant::Admin => (None, None),
        Grant::Extension { extension_id, role } => {
            let extensions = state.service.list_extensions(&ctx).await?;
            let slug = extensions
                .into_iter()
                .find(|e| e.id == *extension_id)
                .map(|e| e.slug.as_str().to_owned());
            (slug, Some(role.as_str().to_owned()))
        }
    };
    Ok(Json(WhoAmI {
        token_id: ctx.principal.token_id.clone(),
        admin: ctx.principal.is_admin(),
        extension,
        role,
        env: ctx.principal.environment.map(|e| e.as_str().to_owned()),
        expires_at: ctx.principal.expires_at,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateToken {
    /// The extension; omit it (and `role`) with `admin: true` for an instance-admin token.
    extension: Option<String>,
    /// owner, developer or viewer.
    role: Option<String>,
    /// An instance-admin token (admins only).
    #[serde(default)]
    admin: bool,
    /// staging or production: the only environment the token may act in. Omitted: both
    /// (or the creating token's, if it is scoped).
    env: Option<String>,
    /// A whole number and a unit, e.g. `30m`, `12h`, `7d` (at most `366d`). Omitted: never
    /// (or when the creating token expires).
    expires_in: Option<String>,
    label: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct CreatedToken {
    /// The token; shown this once and never again.
    token: String,
    id: String,
    /// Null for an admin token.
    extension: Option<String>,
    /// `admin` or the role on the extension.
    role: String,
    env: Option<String>,
    expires_at: Option<DateTime<Utc>>,
}

/// Creates a token: one role on one extension (admins, and owners of that extension), or
/// an instance-admin token (admins); optionally limited to one environment and expiring.
#[utoipa::path(post, path = "/api/v1/tokens", security(("bearer" = [])), request_body = CreateToken,
    responses((status = 201, body = CreatedToken), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn create(
    State(state): State<AppState>,
    Authed(ctx): Authed,
    ApiJson(body): ApiJson<CreateToken>,
) -> Result<(StatusCode, Json<CreatedToken>), AppError> {
    let request = parse_create(body)?;
    let issued = state.service.create_token(&ctx, request.clone()).await?;
    let (extension, role) = match &request.target {
        TokenFor::Admin => (None, "admin".to_owned()),
        TokenFor::Extension { slug, role } => (Some(slug.to_string()), role.to_string()),
    };
    Ok((
        StatusCode::CREATED,
        Json(CreatedToken {
            token: issued.token.to_string(),
            id: issued.record.id.clone(),
            extension,
            role,
            env: issued.record.environment.map(|e| e.to_string()),
            expires_at: issued.record.expires_at,
        }),
    ))
}

fn parse_create(body: CreateToken) -> Result<TokenRequest, AppError> {
    let invalid = |e: &dyn std::fmt::Display| AppError::invalid(e.to_string());
    let target = match (body.admin, body.extension, body.role) {
        (true, None, None) => TokenFor::Admin,
        (true, _, _) => {
            return Err(AppError::invalid(
                "an admin token has no extension or role; send either `admin: true` or `extension` and `role`",
            ))
        }
        (false, Some(extension), Some(role)) => TokenFor::Extension {
            slug: ExtensionSlug::parse(&extension).map_err(|e| invalid(&e))?,
            role: Role::parse(&role).map_err(|e| invalid(&e))?,
        },
        (false, _, _) => {
            return Err(AppError::invalid(
                "a token needs `extension` and `role` (owner, developer or viewer), or `admin: true`",
            ))
        }
    };
    let environment = body
        .env
        .map(|env| Environment::parse(&env).map_err(|e| invalid(&e)))
        .transpose()?;
    let expires_in = body
        .expires_in
        .map(|d| TokenLifetime::parse(&d).map_err(|e| invalid(&e)))
        .transpose()?;
    Ok(TokenRequest {
        target,
        environment,
        expires_in,
        label: body.label.map(|l| l.chars().take(128).collect()),
    })
}

#[derive(Deserialize, IntoParams)]
pub(crate) struct ListParams {
    /// Only this extension's tokens. Owners without it get their extension's.
    extension: Option<String>,
}

/// A live token, without its secret or hash.
#[derive(Serialize, ToSchema)]
pub(crate) struct TokenView {
    id: String,
    /// Null for an admin token.
    extension: Option<String>,
    /// `admin` or the role on the extension.
    role: String,
    /// The one environment it may act in; null: both.
    env: Option<String>,
    label: String,
    created_at: DateTime<Utc>,
    /// The id of the token that created it.
    created_by: Option<String>,
    expires_at: Option<DateTime<Utc>>,
    /// Written at most once a minute per server, so up to a minute behind.
    last_used_at: Option<DateTime<Utc>>,
}

impl From<TokenSummary> for TokenView {
    fn from(t: TokenSummary) -> Self {
        Self {
            id: t.id,
            extension: t.extension.map(|e| e.to_string()),
            role: t.role.map_or_else(|| "admin".to_owned(), |r| r.to_string()),
            env: t.environment.map(|e| e.to_string()),
            label: t.label,
            created_at: t.created_at,
            created_by: t.created_by,
            expires_at: t.expires_at,
            last_used_at: t.last_used_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub(crate) struct TokenList {
    tokens: Vec<TokenView>,
}

/// Live tokens: every one for admins, their extension's for owners. Never a secret.
#[utoipa::path(get, path = "/api/v1/tokens", security(("bearer" = [])), params(ListParams),
    responses((status = 200, body = TokenList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    Authed(ctx): Authed,
    Query(params): Query<ListParams>,
) -> Result<Json<TokenList>, AppError> {
    let slug = params
        .extension
        .map(|e| ExtensionSlug::parse(&e).map_err(|e| AppError::invalid(e.to_string())))
        .transpose()?;
    let tokens = state.service.list_tokens(&ctx, slug.as_ref()).await?;
    Ok(Json(TokenList {
        tokens: tokens.into_iter().map(Into::into).collect(),
    }))
}

/// Revokes a token at once, on every server sharing the database (admins: any but the
/// last unscoped, non-expiring admin token; owners: their extension's). An id the caller
/// may not manage answers like one that does not exist.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", security(("bearer" = [])),
    params(("id" = String, Path, description = "the token's id, as `lumio tokens list` shows it")),
    responses((status = 200, body = TokenView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "the last admin token")))]
pub(crate) async fn revoke(
    State(state): State<AppState>,
    Authed(ctx): Authed,
    Path(id): Path<String>,
) -> Result<Json<TokenView>, AppError> {
    let revoked = state.service.revoke_token(&ctx, &id).await?;
    Ok(Json(revoked.into()))
}
