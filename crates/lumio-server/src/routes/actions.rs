//! Actions: deploying code (management plane) and invoking actions (client plane).

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use lumio_actions::{DeploymentSummary, ErrorCode, InvocationLog};
use lumio_core::{Environment, ExtensionSlug};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::paths::Scope;
use crate::api_error::{AppError, ErrorBody};
use crate::auth::Authed;
use crate::json::ApiJson;
use crate::request_id::RequestId;
use crate::AppState;

#[derive(Deserialize, ToSchema)]
pub(crate) struct Deploy {
    /// Path under the extension (e.g. `server/functions.ts`) → TypeScript source.
    files: BTreeMap<String, String>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct DeploymentView {
    version: i64,
    actions: Vec<String>,
    created_at: DateTime<Utc>,
    created_by: String,
    active: bool,
    /// Each action's grants: only in the answer to a deploy.
    #[serde(skip_serializing_if = "Option::is_none")]
    grants: Option<Vec<GrantsView>>,
}

/// What one deployed action may read.
#[derive(Serialize, ToSchema)]
pub(crate) struct GrantsView {
    /// `functions:charge`.
    action: String,
    /// The secret names it may read; `null`: every secret of the extension and environment.
    secrets: Option<Vec<String>>,
    /// Granted names not set in the environment deployed to.
    missing: Vec<String>,
}

fn names(names: Vec<lumio_core::SecretName>) -> Vec<String> {
    names.into_iter().map(|n| n.as_str().to_owned()).collect()
}

impl From<DeploymentSummary> for DeploymentView {
    fn from(d: DeploymentSummary) -> Self {
        Self {
            version: d.version,
            actions: d.actions,
            created_at: d.created_at,
            created_by: d.created_by,
            active: d.active,
            grants: d.grants.map(|grants| {
                grants
                    .into_iter()
                    .map(|g| GrantsView {
                        action: g.action,
                        secrets: g.secrets.map(names),
                        missing: names(g.missing),
                    })
                    .collect()
            }),
        }
    }
}

/// Deploys the extension's `server/` code to an environment. A compile error is a 400
/// `deploy_error` naming `file:line:col`, and the active deployment stays as it was.
#[utoipa::path(post, path = "/api/v1/extensions/{ext}/environments/{env}/deployments", security(("bearer" = [])),
    params(("ext" = String, Path), ("env" = String, Path)), request_body = Deploy,
    responses((status = 201, body = DeploymentView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody, description = "role too weak, or token scoped to the other environment")))]
pub(crate) async fn deploy(
    State(state): State<AppState>,
    Authed(ctx): Authed,
    scope: Scope,
    ApiJson(body): ApiJson<Deploy>,
) -> Result<(StatusCode, Json<DeploymentView>), AppError> {
    // Deployed code reads the environment's secrets, so deploying is scoped like them.
    ctx.principal
        .require_environment(scope.environment, "deploy")?;
    let summary = state
        .actions
        .deploy(&ctx, &scope.extension, scope.environment, body.files)
        .await?;
    Ok((StatusCode::CREATED, Json(summary.into())))
}

#[derive(Serialize, ToSchema)]
pub(crate) struct DeploymentList {
    deployments: Vec<DeploymentView>,
}

/// Deployments of an environment, newest (active) first.
#[utoipa::path(get, path = "/api/v1/extensions/{ext}/environments/{env}/deployments", security(("bearer" = [])),
    params(("ext" = String, Path), ("env" = String, Path)),
    responses((status = 200, body = DeploymentList), (status = 404, body = ErrorBody)))]
pub(crate) async fn deployments(
    State(state): State<AppState>,
    Authed(ctx): Authed,
    scope: Scope,
) -> Result<Json<DeploymentList>, AppError> {
    ctx.principal
        .require_environment(scope.environment, "list deployments")?;
    let list = state
        .actions
        .deployments(&ctx, &scope.extension, scope.environment)
        .await?;
    Ok(Json(DeploymentList {
        deployments: list.into_iter().map(Into::into).collect(),
    }))
}

#[derive(Deserialize, IntoParams)]
pub(crate) struct LogsParams {
    /// How many invocations, newest first; default 20, at most 200.
    limit: Option<usize>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct Logs {
    #[schema(value_type = Vec<Object>)]
    invocations: Vec<InvocationLog>,
}

/// Recent invocations with their `console` output, secret values masked.
#[utoipa::path(get, path = "/api/v1/extensions/{ext}/environments/{env}/logs", security(("bearer" = [])),
    params(("ext" = String, Path), ("env" = String, Path), LogsParams),
    responses((status = 200, body = Logs), (status = 404, body = ErrorBody)))]
pub(crate) async fn logs(
    State(state): State<AppState>,
    Authed(ctx): Authed,
    scope: Scope,
    Query(params): Query<LogsParams>,
) -> Result<Json<Logs>, AppError> {
    ctx.principal
        .require_environment(scope.environment, "read logs")?;
    let limit = params.limit.unwrap_or(20).clamp(1, 200);
    let invocations = state
        .actions
        .logs(&ctx, &scope.extension, scope.environment, limit)
        .await?;
    Ok(Json(Logs { invocations }))
}

#[derive(Deserialize, ToSchema)]
pub(crate) struct Invoke {
    /// The action's arguments, checked against its `v` validators.
    #[serde(default = "empty_object")]
    #[schema(value_type = Object)]
    args: serde_json::Value,
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(Default::default())
}

#[derive(Serialize, ToSchema)]
pub(crate) struct InvokeValue {
    #[schema(value_type = Object)]
    value: serde_json::Value,
}

/// Calls an action as a client would (no token: this is the client plane). Answers
/// `{"value": …}` or `{"error": {"code", "message"}}`.
#[utoipa::path(post, path = "/api/v1/extensions/{ext}/environments/{env}/actions/{action}",
    params(("ext" = String, Path), ("env" = String, Path), ("action" = String, Path, description = "module:export")),
    request_body = Invoke,
    responses((status = 200, body = InvokeValue), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 429, body = ErrorBody, description = "rate limited; see Retry-After"), (status = 500, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn invoke(
    State(state): State<AppState>,
    Path((ext, env, action)): Path<(String, String, String)>,
    Extension(request_id): Extension<RequestId>,
    ApiJson(body): ApiJson<Invoke>,
) -> Result<Response, AppError> {
    let invalid = |e: lumio_core::InvalidId| AppError::invalid(e.to_string());
    let slug = ExtensionSlug::parse(&ext).map_err(invalid)?;
    let environment = Environment::parse(&env).map_err(invalid)?;
    if action.len() > 256 {
        return Err(AppError::invalid(
            "action name is longer than 256 characters",
        ));
    }
    if let Err(wait) = state.client_limit.check(slug.as_str()) {
        let mut response = AppError {
            status: StatusCode::TOO_MANY_REQUESTS,
            code: "rate_limited",
            message: "this extension's actions are called faster than the server allows; retry after the time in Retry-After".to_owned(),
            hint: None,
        }
        .into_response();
        let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
        response
            .headers_mut()
            .insert(axum::http::header::RETRY_AFTER, seconds.into());
        return Ok(response);
    }
    let started = std::time::Instant::now();
    let outcome = state
        .actions
        .invoke(&slug, environment, &action, body.args, &request_id.0)
        .await;
    // The outcome is a fixed word ("ok" or the error code), never the action's name.
    let label = match &outcome.result {
        Ok(_) => "ok",
        Err(err) => err.code.as_str(),
    };
    crate::metrics::record_invocation(label, started.elapsed());
    Ok(match outcome.result {
        Ok(value) => Json(InvokeValue { value }).into_response(),
        Err(err) => AppError {
            status: status_of(err.code),
            code: err.code.as_str(),
            message: err.message,
            hint: None,
        }
        .into_response(),
    })
}

fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::InvalidArgs => StatusCode::BAD_REQUEST,
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::AuditUnavailable | ErrorCode::Overloaded | ErrorCode::Unavailable => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}
