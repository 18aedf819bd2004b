//! `/api/v1/admin/master-key`: the keyring's state, and online master-key rotation
//! (instance admins; the service checks the role).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use lumio_api::admin::MasterKeyStatus;
use lumio_api::ErrorBody;

use crate::api_error::AppError;
use crate::auth::Authed;
use crate::AppState;

fn view(status: lumio_secrets::MasterKeyStatus) -> MasterKeyStatus {
    MasterKeyStatus {
        current_key: status.current_key,
        held_keys: status.held_keys,
        rotating: status.rotating,
        rotation_key: status.rotation_key,
    }
}

/// The master keyring as this server holds it, and whether a rotation is under way.
#[utoipa::path(get, path = "/api/v1/admin/master-key", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = MasterKeyStatus)))]
pub(crate) async fn status(
    State(state): State<AppState>,
    Authed(ctx): Authed,
) -> Result<Json<MasterKeyStatus>, AppError> {
    ctx.principal
        .require_admin("read the master key's state")
        .map_err(AppError::from)?;
    Ok(Json(view(state.service.master_key_status().await?)))
}

/// Starts an online rotation: new versions are sealed under a new master key at once,
/// on every server; the stored ones are rewrapped in the background (poll the state).
#[utoipa::path(post, path = "/api/v1/admin/master-key/rotations", tag = "admin", security(("bearer" = [])),
    responses((status = 202, body = MasterKeyStatus),
        (status = 409, body = ErrorBody, description = "a rotation is still rewrapping")))]
pub(crate) async fn rotate(
    State(state): State<AppState>,
    Authed(ctx): Authed,
) -> Result<(StatusCode, Json<MasterKeyStatus>), AppError> {
    let status = state.service.rotate_master_key(&ctx).await?;
    Ok((StatusCode::ACCEPTED, Json(view(status))))
}
