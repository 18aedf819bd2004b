//! `/api/v1/extensions`: list and create.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use lumio_api::extensions::{CreateExtension, ExtensionList, ExtensionView};
use lumio_api::ErrorBody;
use lumio_core::ExtensionSlug;
use lumio_store::Extension;

use crate::api_error::AppError;
use crate::auth::Authed;
use crate::json::ApiJson;
use crate::AppState;

fn extension_view(extension: Extension) -> ExtensionView {
    ExtensionView {
        name: extension.slug.as_str().to_owned(),
        created_at: extension.created_at,
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

/// Creates an extension (instance admins).
#[utoipa::path(post, path = "/api/v1/extensions", tag = "extensions", security(("bearer" = [])), request_body = CreateExtension,
    responses((status = 201, body = ExtensionView), (status = 409, body = ErrorBody, description = "an extension by that name exists")))]
pub(crate) async fn create(
    State(state): State<AppState>,
    Authed(ctx): Authed,
    ApiJson(body): ApiJson<CreateExtension>,
) -> Result<(StatusCode, Json<ExtensionView>), AppError> {
    let slug = ExtensionSlug::parse(&body.name).map_err(|e| AppError::invalid(e.to_string()))?;
    let extension = state.service.create_extension(&ctx, &slug).await?;
    Ok((StatusCode::CREATED, Json(extension_view(extension))))
}
