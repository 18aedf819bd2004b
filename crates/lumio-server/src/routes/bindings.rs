//! `…/secrets/{name}/binding`: the hosts a secret's value may be sent to by `ctx.fetch`.
//! Changing it needs no value and writes no version.

use axum::extract::State;
use axum::Json;
use lumio_api::params::SecretPath;
use lumio_api::secrets::{BindingView, SetBinding};
use lumio_core::AllowedHosts;

use super::paths::Scope;
use crate::api_error::AppError;
use crate::auth::Authed;
use crate::json::ApiJson;
use crate::AppState;

/// Binds a secret to the hosts its value may be sent to; a fetch elsewhere carrying it is
/// refused (`fetch_refused`) and audited (`egress.blocked`). Audited as
/// `secret.binding_changed`; seen by the next `ctx.secrets.get`.
#[utoipa::path(put, path = "/api/v1/extensions/{ext}/environments/{env}/secrets/{name}/binding", security(("bearer" = [])),
    tag = "secrets", params(SecretPath), request_body = SetBinding,
    responses((status = 200, body = BindingView)))]
pub(crate) async fn set(
    State(state): State<AppState>,
    Authed(ctx): Authed,
    scope: Scope,
    ApiJson(body): ApiJson<SetBinding>,
) -> Result<Json<BindingView>, AppError> {
    let hosts =
        AllowedHosts::parse(&body.allowed_hosts).map_err(lumio_secrets::ServiceError::from)?;
    state
        .service
        .bind(
            &ctx,
            &scope.extension,
            scope.environment,
            scope.name(),
            Some(&hosts),
        )
        .await?;
    Ok(Json(BindingView {
        name: scope.name().as_str().to_owned(),
        allowed_hosts: Some(hosts.to_strings()),
    }))
}

/// Unbinds a secret: its value may again be sent to any host. Audited as
/// `secret.binding_changed`.
#[utoipa::path(delete, path = "/api/v1/extensions/{ext}/environments/{env}/secrets/{name}/binding", security(("bearer" = [])),
    tag = "secrets", params(SecretPath),
    responses((status = 200, body = BindingView)))]
pub(crate) async fn clear(
    State(state): State<AppState>,
    Authed(ctx): Authed,
    scope: Scope,
) -> Result<Json<BindingView>, AppError> {
    state
        .service
        .bind(
            &ctx,
            &scope.extension,
            scope.environment,
            scope.name(),
            None,
        )
        .await?;
    Ok(Json(BindingView {
        name: scope.name().as_str().to_owned(),
        allowed_hosts: None,
    }))
}
