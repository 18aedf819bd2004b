use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use lumio_core::ExtensionSlug;
use lumio_store::Extension;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api_error::{AppError, ErrorBody};
use crate::auth::Authed;
use crate::json::ApiJson;
use crate::AppState;

#[derive(Serialize, ToSchema)]
pub(crate) struct ExtensionView {
    name: String,
    created_at: DateTime<Utc>,
}

impl From<Extension> for ExtensionView {
    fn from(extension: Extension) -> Self {
        Self {
            name: extension.slug.as_str().to_owned(),
            created_at: extension.created_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub(crate) struct ExtensionList {
    extensions: Vec<ExtensionView>,
}

#[derive(Deserialize, ToSchema)]
pub(crate) struct CreateExtension {
    /// 1-63 lowercase letters, digits and '-', starting with a letter.
    name: String,
}

/// The extensions this token may see.
#[utoipa::path(get, path = "/api/v1/extensions", security(("bearer" = [])),
    responses((status = 200, body = ExtensionList), (status = 401, body = ErrorBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    Authed(ctx): Authed,
) -> Result<Json<ExtensionList>, AppError> {
    let extensions = state.service.list_extensions(&ctx).await?;
    Ok(Json(ExtensionList {
        extensions: extensions.into_iter().map(Into::into).collect(),
    }))
}

/// Creates an extension (instance admins).
#[utoipa::path(post, path = "/api/v1/extensions", security(("bearer" = [])), request_body = CreateExtension,
    responses((status = 201, body = ExtensionView), (status = 409, body = ErrorBody)))]
pub(crate) async fn create(
    State(state): State<AppState>,
    Authed(ctx): Authed,
    ApiJson(body): ApiJson<CreateExtension>,
) -> Result<(StatusCode, Json<ExtensionView>), AppError> {
    let slug = ExtensionSlug::parse(&body.name).map_err(|e| AppError::invalid(e.to_string()))?;
    let extension = state.service.create_extension(&ctx, &slug).await?;
    Ok((StatusCode::CREATED, Json(extension.into())))
}
