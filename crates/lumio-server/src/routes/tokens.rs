use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use lumio_core::{ExtensionSlug, Role};
use lumio_store::Grant;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

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
    }))
}

#[derive(Deserialize, ToSchema)]
pub(crate) struct CreateToken {
    extension: String,
    /// owner, developer or viewer.
    role: String,
    label: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct CreatedToken {
    /// The token; shown this once and never again.
    token: String,
    id: String,
    extension: String,
    role: String,
}

/// Creates a token with one role on one extension (admins, and owners of that extension).
#[utoipa::path(post, path = "/api/v1/tokens", security(("bearer" = [])), request_body = CreateToken,
    responses((status = 201, body = CreatedToken), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn create(
    State(state): State<AppState>,
    Authed(ctx): Authed,
    ApiJson(body): ApiJson<CreateToken>,
) -> Result<(StatusCode, Json<CreatedToken>), AppError> {
    let invalid = |e: &dyn std::fmt::Display| AppError::invalid(e.to_string());
    let slug = ExtensionSlug::parse(&body.extension).map_err(|e| invalid(&e))?;
    let role = Role::parse(&body.role).map_err(|e| invalid(&e))?;
    let label = body.label.map(|l| l.chars().take(128).collect());
    let issued = state.service.create_token(&ctx, &slug, role, label).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedToken {
            token: issued.token.to_string(),
            id: issued.record.id.clone(),
            extension: slug.as_str().to_owned(),
            role: role.as_str().to_owned(),
        }),
    ))
}
