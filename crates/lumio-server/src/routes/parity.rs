//! Environment parity: `…/environments/{env}/diff?with=ENV` compares two environments by
//! name and equality, `…/environments/{env}/copy` copies values into `{env}` server-side.
//! Neither answer carries a value or a hash of one.

use axum::extract::State;
use axum::Json;
use lumio_api::params::ScopePath;
use lumio_api::parity::{CopiedView, CopySecrets, DiffQuery, DiffView};
use lumio_api::ErrorBody;
use lumio_core::{Environment, SecretName};
use lumio_secrets::{CopySelection, EnvironmentDiff};

use super::paths::Scope;
use super::secrets::imported_view;
use crate::api_error::AppError;
use crate::auth::Authed;
use crate::json::{ApiJson, ApiQuery};
use crate::AppState;

fn names(list: Vec<SecretName>) -> Vec<String> {
    list.into_iter().map(|n| n.as_str().to_owned()).collect()
}

/// Compares two environments' secrets: names set in only one, and for names in both
/// whether the values are equal (compared on the server; no value or hash is returned).
/// Needs a token that reaches both environments. Audited as `secret.compared`.
#[utoipa::path(get, path = "/api/v1/extensions/{ext}/environments/{env}/diff", tag = "parity",
    security(("bearer" = [])), params(ScopePath, DiffQuery),
    responses((status = 200, body = DiffView),
        (status = 422, body = ErrorBody, description = "`with` is `{env}` itself (`unprocessable`)")))]
pub(crate) async fn diff(
    State(state): State<AppState>,
    Authed(ctx): Authed,
    scope: Scope,
    ApiQuery(query): ApiQuery<DiffQuery>,
) -> Result<Json<DiffView>, AppError> {
    let other = query
        .with
        .as_deref()
        .ok_or_else(|| AppError::invalid("name the environment to compare with: ?with=ENV"))
        .and_then(|with| {
            Environment::parse(with).map_err(|err| AppError::invalid(err.to_string()))
        })?;
    let diff: EnvironmentDiff = state
        .service
        .compare(&ctx, &scope.extension, scope.environment, other)
        .await?;
    Ok(Json(DiffView {
        environment: scope.environment.as_str().to_owned(),
        other: other.as_str().to_owned(),
        equal: diff.is_equal(),
        only_in_environment: names(diff.only_in_first),
        only_in_other: names(diff.only_in_second),
        differ: names(diff.differ),
        same: names(diff.equal),
    }))
}

/// Copies values from `from` into `{env}` on the server, all or nothing, each written
/// name a new version with its `secret.copy` audit record. Names already equal are
/// skipped. A name not set in `from` fails the copy with nothing written.
#[utoipa::path(post, path = "/api/v1/extensions/{ext}/environments/{env}/copy", tag = "parity",
    security(("bearer" = [])), params(ScopePath), request_body = CopySecrets,
    responses((status = 200, body = CopiedView),
        (status = 422, body = ErrorBody, description = "`from` is `{env}` itself (`unprocessable`), or over a limit (`limit`: secrets per environment)")))]
pub(crate) async fn copy(
    State(state): State<AppState>,
    Authed(ctx): Authed,
    scope: Scope,
    ApiJson(body): ApiJson<CopySecrets>,
) -> Result<Json<CopiedView>, AppError> {
    let invalid = |err: lumio_core::InvalidId| AppError::invalid(err.to_string());
    let from = Environment::parse(&body.from).map_err(invalid)?;
    let selection = match (body.all, body.names.is_empty()) {
        (true, true) => CopySelection::All,
        (true, false) => return Err(AppError::invalid("give either names or all, not both")),
        (false, _) => CopySelection::Names(
            body.names
                .iter()
                .map(|n| SecretName::parse(n))
                .collect::<Result<_, _>>()
                .map_err(invalid)?,
        ),
    };
    let report = state
        .service
        .copy(&ctx, &scope.extension, from, scope.environment, selection)
        .await?;
    Ok(Json(CopiedView {
        from: from.as_str().to_owned(),
        to: scope.environment.as_str().to_owned(),
        copied: report.copied.into_iter().map(imported_view).collect(),
        unchanged: names(report.unchanged),
    }))
}
