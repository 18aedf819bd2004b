//! Tokens: who am I, create, list, revoke. No answer ever carries a token's secret or its
//! hash, except the one creating it (the token itself, once).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use lumio_api::params::TokenPath;
use lumio_api::tokens::{CreateToken, CreatedToken, TokenList, TokenListQuery, TokenView, WhoAmI};
use lumio_api::ErrorBody;
use lumio_core::{Environment, ExtensionSlug, Role, TokenLifetime};
use lumio_secrets::Grant;
use lumio_secrets::{TokenFor, TokenRequest, TokenSummary};

use crate::api_error::AppError;
use crate::auth::Authed;
use crate::json::{ApiJson, ApiPath, ApiQuery};
use crate::AppState;

/// Who the presented token is.
#[utoipa::path(get, path = "/api/v1/whoami", tag = "tokens", security(("bearer" = [])),
    responses((status = 200, body = WhoAmI)))]
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

/// Creates a token: one role on one extension (admins, and owners of that extension), or
/// an instance-admin token (admins); optionally limited to one environment and expiring.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens", security(("bearer" = [])), request_body = CreateToken,
    responses((status = 201, body = CreatedToken)))]
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

fn token_view(t: TokenSummary) -> TokenView {
    TokenView {
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

/// Live tokens: every one for admins, their extension's for owners. Never a secret.
#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens", security(("bearer" = [])), params(TokenListQuery),
    responses((status = 200, body = TokenList)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    Authed(ctx): Authed,
    ApiQuery(params): ApiQuery<TokenListQuery>,
) -> Result<Json<TokenList>, AppError> {
    let slug = params
        .extension
        .map(|e| ExtensionSlug::parse(&e).map_err(|e| AppError::invalid(e.to_string())))
        .transpose()?;
    let tokens = state.service.list_tokens(&ctx, slug.as_ref()).await?;
    Ok(Json(TokenList {
        tokens: tokens.into_iter().map(token_view).collect(),
    }))
}

/// Revokes a token at once, on every server sharing the database (admins: any but the
/// last unscoped, non-expiring admin token; owners: their extension's). An id the caller
/// may not manage answers like one that does not exist.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "tokens", security(("bearer" = [])),
    params(TokenPath),
    responses((status = 200, body = TokenView),
        (status = 409, body = ErrorBody, description = "the last admin token")))]
pub(crate) async fn revoke(
    State(state): State<AppState>,
    Authed(ctx): Authed,
    ApiPath(path): ApiPath<TokenPath>,
) -> Result<Json<TokenView>, AppError> {
    let revoked = state.service.revoke_token(&ctx, &path.id).await?;
    Ok(Json(token_view(revoked)))
}
