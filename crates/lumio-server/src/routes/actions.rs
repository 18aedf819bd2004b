//! Actions: deploying code (management plane) and invoking actions (client plane).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use lumio_actions::{DeploymentSummary, InvocationLog, LogsRequest};
use lumio_api::actions::{
    ConsoleLineView, Deploy, DeploymentList, DeploymentView, GrantsView, InvocationView, Invoke,
    InvokeValue, LogLevel, Logs, LogsQuery, SecretReadView,
};
use lumio_api::params::{ActionPath, ScopePath};
use lumio_api::{ErrorBody, ErrorCode};
use lumio_core::{Environment, ExtensionSlug};

use super::paths::Scope;
use crate::api_error::{rate_limited, AppError};
use crate::auth::Authed;
use crate::json::{ApiJson, ApiPath, ApiQuery};
use crate::request_id::RequestId;
use crate::AppState;

fn names(names: Vec<lumio_core::SecretName>) -> Vec<String> {
    names.into_iter().map(|n| n.as_str().to_owned()).collect()
}

fn deployment_view(d: DeploymentSummary) -> DeploymentView {
    DeploymentView {
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

fn invocation_view(log: InvocationLog) -> InvocationView {
    use lumio_actions::LogLevel as Level;
    InvocationView {
        id: log.id,
        at: log.at,
        action: log.action,
        request_id: log.request_id,
        outcome: log.outcome,
        duration_ms: log.duration_ms,
        console: log
            .console
            .into_iter()
            .map(|line| ConsoleLineView {
                level: match line.level {
                    Level::Debug => LogLevel::Debug,
                    Level::Info => LogLevel::Info,
                    Level::Warn => LogLevel::Warn,
                    Level::Error => LogLevel::Error,
                },
                text: line.text,
            })
            .collect(),
        error: log.error,
        reads: log
            .reads
            .into_iter()
            .map(|read| SecretReadView {
                outcome: read.outcome.as_str().to_owned(),
                name: read.name,
            })
            .collect(),
    }
}

/// Deploys the extension's `server/` code to an environment. A compile error is a 422
/// `deploy_error` naming `file:line:col`, and the active deployment stays as it was.
#[utoipa::path(post, path = "/api/v1/extensions/{ext}/environments/{env}/deployments", tag = "actions",
    security(("bearer" = [])), params(ScopePath), request_body = Deploy,
    responses((status = 201, body = DeploymentView),
        (status = 422, body = ErrorBody, description = "the code does not compile (`deploy_error`); the active deployment is unchanged")))]
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
    Ok((StatusCode::CREATED, Json(deployment_view(summary))))
}

/// Deployments of an environment, newest (active) first.
#[utoipa::path(get, path = "/api/v1/extensions/{ext}/environments/{env}/deployments", tag = "actions",
    security(("bearer" = [])), params(ScopePath),
    responses((status = 200, body = DeploymentList)))]
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
        deployments: list.into_iter().map(deployment_view).collect(),
    }))
}

/// Invocations with their `console` output (secret values masked) and the names of the
/// secrets they read, from every server on the database. Without `after`: the newest,
/// newest first. With `after` (a `cursor` from an earlier answer): those after it, oldest
/// first, waiting up to `wait` seconds for some when there are none yet.
#[utoipa::path(get, path = "/api/v1/extensions/{ext}/environments/{env}/logs", tag = "actions",
    security(("bearer" = [])), params(ScopePath, LogsQuery),
    responses((status = 200, body = Logs)))]
pub(crate) async fn logs(
    State(state): State<AppState>,
    Authed(ctx): Authed,
    scope: Scope,
    ApiQuery(params): ApiQuery<LogsQuery>,
) -> Result<Json<Logs>, AppError> {
    ctx.principal
        .require_environment(scope.environment, "read logs")?;
    let limit = super::page_limit(params.limit.map(|l| l as i64), 20, 200)? as usize;
    let wait = params.wait.unwrap_or(0);
    if wait > 30 {
        return Err(AppError::invalid(
            "wait is at most 30 seconds; ask again with the cursor to keep following",
        ));
    }
    if params.action.as_ref().is_some_and(|a| a.len() > 256) {
        return Err(AppError::invalid(
            "action is longer than 256 characters; give it as module:export",
        ));
    }
    let request = LogsRequest {
        limit,
        after: params.after,
        action: params.action,
        since: params.since,
        wait: std::time::Duration::from_secs(u64::from(wait)),
    };
    let page = state
        .actions
        .logs(&ctx, &scope.extension, scope.environment, &request)
        .await?;
    Ok(Json(Logs {
        invocations: page.invocations.into_iter().map(invocation_view).collect(),
        cursor: page.cursor,
    }))
}

/// Calls an action as a client would (no token: this is the client plane). Answers
/// `{"value": …}` or `{"error": {"code", "message"}}`.
#[utoipa::path(post, path = "/api/v1/extensions/{ext}/environments/{env}/actions/{action}", tag = "actions",
    params(ActionPath), request_body = Invoke,
    responses((status = 200, body = InvokeValue),
        (status = 429, body = ErrorBody, description = "rate limited (`rate_limited`): the extension's actions are called faster than the server allows, this client address got 5 `secret_leak` answers from the extension within a minute, or its calls made the extension's actions refuse 300 secret reads within a minute; see Retry-After")))]
pub(crate) async fn invoke(
    State(state): State<AppState>,
    ApiPath(ActionPath { ext, env, action }): ApiPath<ActionPath>,
    Extension(request_id): Extension<RequestId>,
    client: Option<Extension<ConnectInfo<SocketAddr>>>,
    ApiJson(body): ApiJson<Invoke>,
) -> Result<Response, AppError> {
    let client = client.map(|Extension(ConnectInfo(addr))| addr.ip());
    let invalid = |e: lumio_core::InvalidId| AppError::invalid(e.to_string());
    let slug = ExtensionSlug::parse(&ext).map_err(invalid)?;
    let environment = Environment::parse(&env).map_err(invalid)?;
    if action.len() > 256 {
        return Err(AppError::invalid(
            "action name is longer than 256 characters",
        ));
    }
    if let Some(wait) = client.and_then(|c| state.leak_limit.check(c, slug.as_str()).err()) {
        return Ok(rate_limited(
            format!("this client got {} secret_leak answers from this extension's actions within a minute; retry after the time in Retry-After", state.leak_limit.max()),
            wait,
        ));
    }
    if let Some(wait) = client.and_then(|c| state.denied_limit.check(c, slug.as_str()).err()) {
        return Ok(rate_limited(
            format!("this client's calls had this extension's actions refuse {} secret reads within a minute, each one audited; retry after the time in Retry-After, and call with names the action may read", state.denied_limit.max()),
            wait,
        ));
    }
    if let Err(wait) = state.client_limit.check(slug.as_str()) {
        return Ok(rate_limited(
            "this extension's actions are called faster than the server allows; retry after the time in Retry-After".to_owned(),
            wait,
        ));
    }
    if let Ok(Some(extension)) = state.service.find_extension(&slug).await {
        if extension.suspended_at.is_some() {
            return Err(lumio_secrets::ServiceError::Suspended(slug.to_string()).into());
        }
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
    if let Some(client) = client {
        if let Err(err) = &outcome.result {
            if err.code == lumio_actions::ErrorCode::SecretLeak {
                state.leak_limit.note(client, slug.as_str());
            }
        }
        if outcome.denied_records > 0 {
            state
                .denied_limit
                .note_many(client, slug.as_str(), outcome.denied_records);
        }
    }
    Ok(match outcome.result {
        Ok(value) => Json(InvokeValue { value }).into_response(),
        Err(err) => client_error(err, &slug, environment).into_response(),
    })
}

/// What the caller, who has no token, learns of a failed invocation. An uncaught
/// `ctx.fetch` failure's own words (the host, the resolver's or TLS library's text) are
/// for the extension's developers, in its logs: the caller gets a fixed sentence.
fn client_error(
    err: lumio_actions::ActionError,
    slug: &ExtensionSlug,
    env: Environment,
) -> AppError {
    let code = ErrorCode::from(err.code);
    if code == ErrorCode::FetchFailed {
        return AppError {
            code,
            message: "the action called another service with ctx.fetch and that call failed"
                .to_owned(),
            hint: Some(format!(
                "`lumio logs --extension {slug} --env {env}` shows which host and why; the \
                 action may catch the error to answer otherwise"
            )),
        };
    }
    AppError {
        code,
        message: err.message,
        hint: err.hint.map(str::to_owned),
    }
}
