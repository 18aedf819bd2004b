//! `/api/v1/extensions/{ext}/environments/{env}/secrets…`: names, versions and changes.
//! No handler here ever puts a value in a response.

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use lumio_api::params::{ScopePath, SecretPath};
use lumio_api::secrets::{
    DeleteQuery, Deleted, History, ImportSecrets, Imported, ImportedView, ListQuery, Rollback,
    SecretList, SecretView, SetSecret, VersionView,
};
use lumio_api::ErrorBody;
use lumio_core::{AllowedHosts, DueUpdate, Period, SecretValue};
use lumio_secrets::SecretHead;
use lumio_secrets::{DueOnSet, ImportedSecret, SecretSummary, SetOptions};

use super::due_dates;
use super::paths::Scope;
use crate::api_error::AppError;
use crate::auth::Authed;
use crate::json::{ApiJson, ApiQuery};
use crate::AppState;

pub(crate) fn summary_view(s: SecretSummary) -> SecretView {
    let rotate_by = s.rotate_by();
    SecretView {
        name: s.name.as_str().to_owned(),
        version: s.version,
        updated_at: s.updated_at,
        updated_by: s.updated_by,
        allowed_hosts: s.allowed_hosts.map(|h| h.to_strings()),
        expires_at: s.expires_at,
        rotate_every_secs: match s.rotate_every {
            DueUpdate::Set(period) => Some(period.secs()),
            _ => None,
        },
        rotate_by,
        due: None,
    }
}

/// A head as a list shows it, with where it stands at `now` (`due` within `within_secs`).
pub(crate) fn head_view(head: &SecretHead, now: DateTime<Utc>, within_secs: i64) -> SecretView {
    let dates = head.due_dates();
    SecretView {
        name: head.name.as_str().to_owned(),
        version: head.current_version.unwrap_or(head.latest_version),
        updated_at: head.updated_at,
        updated_by: head.updated_by.clone(),
        allowed_hosts: head.allowed_hosts.as_ref().map(AllowedHosts::to_strings),
        expires_at: head.expires_at,
        rotate_every_secs: head.rotate_every.map(Period::secs),
        rotate_by: dates.rotate_by,
        due: Some(dates.state(now, within_secs).into()),
    }
}

pub(crate) fn imported_view(s: ImportedSecret) -> ImportedView {
    ImportedView {
        name: s.name.as_str().to_owned(),
        version: s.version,
    }
}

/// Secret names with version, last change and due dates (with where each stands by the
/// server's clock). Values are never shown.
#[utoipa::path(get, path = "/api/v1/extensions/{ext}/environments/{env}/secrets", tag = "secrets",
    security(("bearer" = [])), params(ScopePath, ListQuery),
    responses((status = 200, body = SecretList)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    Authed(ctx): Authed,
    scope: Scope,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<SecretList>, AppError> {
    let within = due_dates::within_secs(query.within.as_deref())?;
    let heads = state
        .service
        .list(&ctx, &scope.extension, scope.environment)
        .await?;
    let now = state.service.now();
    Ok(Json(SecretList {
        secrets: heads.iter().map(|h| head_view(h, now, within)).collect(),
    }))
}

/// Sets a secret, making a new version; readable by the next `ctx.secrets.get`. The new
/// version may be given an expiry and the secret a rotation period (a past expiry is a
/// 422, a period out of range a 400, and nothing is stored).
#[utoipa::path(put, path = "/api/v1/extensions/{ext}/environments/{env}/secrets/{name}", tag = "secrets",
    security(("bearer" = [])), params(SecretPath), request_body = SetSecret,
    responses((status = 200, body = SecretView),
        (status = 422, body = ErrorBody, description = "over a limit (secrets per environment), or due dates that cannot apply (`unprocessable`: an expiry not in the future or not a time, two expiries)")))]
pub(crate) async fn set(
    State(state): State<AppState>,
    Authed(ctx): Authed,
    scope: Scope,
    ApiJson(body): ApiJson<SetSecret<'static>>,
) -> Result<Json<SecretView>, AppError> {
    let value = SecretValue::new(body.value.into_owned())
        .map_err(|err| AppError::invalid(err.to_string()))?;
    let hosts = body
        .allowed_hosts
        .map(AllowedHosts::parse)
        .transpose()
        .map_err(lumio_secrets::ServiceError::from)?;
    let options = SetOptions {
        allowed_hosts: hosts,
        due: DueOnSet {
            expires: due_dates::expiry(body.expires_at, body.expires_in_secs)?,
            rotate_every: due_dates::rotation(body.rotate_every_secs)?,
        },
    };
    let summary = state
        .service
        .set_with(
            &ctx,
            &scope.extension,
            scope.environment,
            scope.name(),
            &value,
            &options,
        )
        .await?;
    Ok(Json(summary_view(summary)))
}

/// Deletes a secret: unreadable at once.
#[utoipa::path(delete, path = "/api/v1/extensions/{ext}/environments/{env}/secrets/{name}", tag = "secrets",
    security(("bearer" = [])), params(SecretPath, DeleteQuery),
    responses((status = 200, body = Deleted)))]
pub(crate) async fn delete(
    State(state): State<AppState>,
    Authed(ctx): Authed,
    scope: Scope,
    ApiQuery(query): ApiQuery<DeleteQuery>,
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

/// Sets many secrets at once, all or nothing.
#[utoipa::path(post, path = "/api/v1/extensions/{ext}/environments/{env}/secrets", tag = "secrets",
    security(("bearer" = [])), params(ScopePath), request_body = ImportSecrets,
    responses((status = 200, body = Imported),
        (status = 422, body = ErrorBody, description = "over a limit (secrets per environment)")))]
pub(crate) async fn import(
    State(state): State<AppState>,
    Authed(ctx): Authed,
    scope: Scope,
    ApiJson(body): ApiJson<ImportSecrets<'static>>,
) -> Result<Json<Imported>, AppError> {
    let pairs = body
        .secrets
        .into_iter()
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect();
    let written = state
        .service
        .import(&ctx, &scope.extension, scope.environment, pairs)
        .await?;
    Ok(Json(Imported {
        imported: written.into_iter().map(imported_view).collect(),
    }))
}

/// Kept versions, newest first; no values.
#[utoipa::path(get, path = "/api/v1/extensions/{ext}/environments/{env}/secrets/{name}/versions", tag = "secrets",
    security(("bearer" = [])), params(SecretPath),
    responses((status = 200, body = History)))]
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

/// Makes a kept version current again, as a new version.
#[utoipa::path(post, path = "/api/v1/extensions/{ext}/environments/{env}/secrets/{name}/rollback", tag = "secrets",
    security(("bearer" = [])), params(SecretPath), request_body = Rollback,
    responses((status = 200, body = SecretView),
        (status = 422, body = ErrorBody, description = "over a limit (secrets per environment)")))]
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
    Ok(Json(summary_view(summary)))
}
