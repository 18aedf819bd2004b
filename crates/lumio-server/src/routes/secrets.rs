//! `/api/v1/extensions/{ext}/environments/{env}/secrets…`: names, versions and changes.
//! No handler here ever puts a value in a response.

use std::collections::BTreeMap;

use axum::extract::{Query, State};
use axum::Json;
use chrono::{DateTime, Utc};
use lumio_core::{AllowedHosts, SecretValue};
use lumio_secrets::{ImportedSecret, SecretSummary};
use lumio_store::SecretHead;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::paths::Scope;
use crate::api_error::{AppError, ErrorBody};
use crate::auth::Authed;
use crate::json::ApiJson;
use crate::AppState;

#[derive(Serialize, ToSchema)]
pub(crate) struct SecretView {
    name: String,
    version: i64,
    updated_at: DateTime<Utc>,
    updated_by: String,
    /// The hosts `ctx.fetch` may send the value to (its egress binding); absent when
    /// unbound. A set's answer carries it only when that set bound the secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    allowed_hosts: Option<Vec<String>>,
}

impl From<SecretSummary> for SecretView {
    fn from(s: SecretSummary) -> Self {
        Self {
            name: s.name.as_str().to_owned(),
            version: s.version,
            updated_at: s.updated_at,
            updated_by: s.updated_by,
            allowed_hosts: s.allowed_hosts.map(|h| h.to_strings()),
        }
    }
}

impl From<&SecretHead> for SecretView {
    fn from(head: &SecretHead) -> Self {
        Self {
            name: head.name.as_str().to_owned(),
            version: head.current_version.unwrap_or(head.latest_version),
            updated_at: head.updated_at,
            updated_by: head.updated_by.clone(),
            allowed_hosts: head.allowed_hosts.as_ref().map(AllowedHosts::to_strings),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub(crate) struct SecretList {
    secrets: Vec<SecretView>,
}

/// Secret names with version and last change. Values are never shown.
#[utoipa::path(get, path = "/api/v1/extensions/{ext}/environments/{env}/secrets", security(("bearer" = [])),
    params(("ext" = String, Path), ("env" = String, Path, description = "staging or production")),
    responses((status = 200, body = SecretList), (status = 404, body = ErrorBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    Authed(ctx): Authed,
    scope: Scope,
) -> Result<Json<SecretList>, AppError> {
    let heads = state
        .service
        .list(&ctx, &scope.extension, scope.environment)
        .await?;
    Ok(Json(SecretList {
        secrets: heads.iter().map(Into::into).collect(),
    }))
}

#[derive(Deserialize, ToSchema)]
pub(crate) struct SetSecret {
    /// UTF-8, at most 64 KiB. Never returned by any endpoint.
    value: String,
    /// Binds the secret to these hosts in the same change (see `…/binding`); absent: the
    /// binding stays as it is.
    #[serde(default)]
    allowed_hosts: Option<Vec<String>>,
}

/// Sets a secret, making a new version; readable by the next `ctx.secrets.get`.
#[utoipa::path(put, path = "/api/v1/extensions/{ext}/environments/{env}/secrets/{name}", security(("bearer" = [])),
    params(("ext" = String, Path), ("env" = String, Path), ("name" = String, Path)), request_body = SetSecret,
    responses((status = 200, body = SecretView), (status = 400, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody, description = "over a limit (secrets per environment)")))]
pub(crate) async fn set(
    State(state): State<AppState>,
    Authed(ctx): Authed,
    scope: Scope,
    ApiJson(body): ApiJson<SetSecret>,
) -> Result<Json<SecretView>, AppError> {
    let value = SecretValue::new(body.value).map_err(|err| AppError::invalid(err.to_string()))?;
    let hosts = body
        .allowed_hosts
        .map(AllowedHosts::parse)
        .transpose()
        .map_err(lumio_secrets::ServiceError::from)?;
    let summary = state
        .service
        .set_bound(
            &ctx,
            &scope.extension,
            scope.environment,
            scope.name(),
            &value,
            hosts.as_ref(),
        )
        .await?;
    Ok(Json(summary.into()))
}

#[derive(Deserialize, IntoParams)]
pub(crate) struct DeleteQuery {
    /// Destroy every version too (owners only); without it, rollback can restore the secret.
    #[serde(default)]
    purge: bool,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct Deleted {
    name: String,
    deleted: bool,
    purged: bool,
}

/// Deletes a secret: unreadable at once.
#[utoipa::path(delete, path = "/api/v1/extensions/{ext}/environments/{env}/secrets/{name}", security(("bearer" = [])),
    params(("ext" = String, Path), ("env" = String, Path), ("name" = String, Path), DeleteQuery),
    responses((status = 200, body = Deleted), (status = 404, body = ErrorBody)))]
pub(crate) async fn delete(
    State(state): State<AppState>,
    Authed(ctx): Authed,
    scope: Scope,
    Query(query): Query<DeleteQuery>,
) -> Result<Json<Deleted>, AppError> {
    let name = scope.name();
    state
        .service
        .delete(&ctx, &scope.extension, scope.environment, name, query.purge)
        .await?;
    Ok(Json(Deleted {
        name: name.as_str().to_owned(),
        deleted: true,
        purged: query.purge,
    }))
}

#[derive(Deserialize, ToSchema)]
pub(crate) struct ImportSecrets {
    /// NAME → value; all are checked, then written in one transaction.
    secrets: BTreeMap<String, String>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct ImportedView {
    name: String,
    version: i64,
}

impl From<ImportedSecret> for ImportedView {
    fn from(s: ImportedSecret) -> Self {
        Self {
            name: s.name.as_str().to_owned(),
            version: s.version,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub(crate) struct Imported {
    imported: Vec<ImportedView>,
}

/// Sets many secrets at once, all or nothing.
#[utoipa::path(post, path = "/api/v1/extensions/{ext}/environments/{env}/secrets", security(("bearer" = [])),
    params(("ext" = String, Path), ("env" = String, Path)), request_body = ImportSecrets,
    responses((status = 200, body = Imported), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody, description = "over a limit (secrets per environment)")))]
pub(crate) async fn import(
    State(state): State<AppState>,
    Authed(ctx): Authed,
    scope: Scope,
    ApiJson(body): ApiJson<ImportSecrets>,
) -> Result<Json<Imported>, AppError> {
    let pairs = body.secrets.into_iter().collect();
    let written = state
        .service
        .import(&ctx, &scope.extension, scope.environment, pairs)
        .await?;
    Ok(Json(Imported {
        imported: written.into_iter().map(Into::into).collect(),
    }))
}

#[derive(Serialize, ToSchema)]
pub(crate) struct VersionView {
    version: i64,
    created_at: DateTime<Utc>,
    created_by: String,
    current: bool,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct History {
    name: String,
    current_version: Option<i64>,
    versions: Vec<VersionView>,
}

/// Kept versions, newest first; no values.
#[utoipa::path(get, path = "/api/v1/extensions/{ext}/environments/{env}/secrets/{name}/versions", security(("bearer" = [])),
    params(("ext" = String, Path), ("env" = String, Path), ("name" = String, Path)),
    responses((status = 200, body = History), (status = 404, body = ErrorBody)))]
pub(crate) async fn history(
    State(state): State<AppState>,
    Authed(ctx): Authed,
    scope: Scope,
) -> Result<Json<History>, AppError> {
    let history = state
        .service
        .history(&ctx, &scope.extension, scope.environment, scope.name())
        .await?;
    Ok(Json(History {
        name: history.name.as_str().to_owned(),
        current_version: history.current_version,
        versions: history
            .versions
            .into_iter()
            .map(|v| VersionView {
                version: v.version,
                created_at: v.created_at,
                created_by: v.created_by,
                current: v.current,
            })
            .collect(),
    }))
}

#[derive(Deserialize, ToSchema)]
pub(crate) struct Rollback {
    version: i64,
}

/// Makes a kept version current again, as a new version.
#[utoipa::path(post, path = "/api/v1/extensions/{ext}/environments/{env}/secrets/{name}/rollback", security(("bearer" = [])),
    params(("ext" = String, Path), ("env" = String, Path), ("name" = String, Path)), request_body = Rollback,
    responses((status = 200, body = SecretView), (status = 404, body = ErrorBody)))]
pub(crate) async fn rollback(
    State(state): State<AppState>,
    Authed(ctx): Authed,
    scope: Scope,
    ApiJson(body): ApiJson<Rollback>,
) -> Result<Json<SecretView>, AppError> {
    let summary = state
        .service
        .rollback(
            &ctx,
            &scope.extension,
            scope.environment,
            scope.name(),
            body.version,
        )
        .await?;
    Ok(Json(summary.into()))
}
