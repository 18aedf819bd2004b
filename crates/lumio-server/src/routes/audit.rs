use axum::extract::{Query, State};
use axum::Json;
use chrono::{DateTime, Utc};
use lumio_secrets::AuditFilter;
use lumio_store::AuditEntry;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::paths::Scope;
use crate::api_error::{AppError, ErrorBody};
use crate::auth::Authed;
use crate::AppState;

#[derive(Deserialize, IntoParams)]
pub(crate) struct AuditParams {
    /// Page size, default 50, at most 1000.
    limit: Option<i64>,
    /// Only entries older than this id (the previous page's `next_before`).
    before: Option<i64>,
    /// Only this secret.
    secret: Option<String>,
    /// Only this event, e.g. `secret.get`, `secret.set`.
    event: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct AuditEntryView {
    id: i64,
    at: DateTime<Utc>,
    environment: Option<String>,
    event: String,
    secret: Option<String>,
    actor: Option<String>,
    action: Option<String>,
    request_id: Option<String>,
    outcome: Option<String>,
    detail: Option<String>,
}

impl From<AuditEntry> for AuditEntryView {
    fn from(entry: AuditEntry) -> Self {
        let r = entry.record;
        Self {
            id: entry.id,
            at: r.at,
            environment: r.environment.map(|e| e.as_str().to_owned()),
            event: r.event,
            secret: r.secret_name,
            actor: r.actor,
            action: r.action,
            request_id: r.request_id,
            outcome: r.outcome,
            detail: r.detail,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub(crate) struct AuditPage {
    entries: Vec<AuditEntryView>,
    /// Pass as `before` for the next page; null on the last page.
    next_before: Option<i64>,
}

/// The audit log, newest first: reads by actions and changes by people. Never values.
#[utoipa::path(get, path = "/api/v1/extensions/{ext}/environments/{env}/audit", security(("bearer" = [])),
    params(("ext" = String, Path), ("env" = String, Path), AuditParams),
    responses((status = 200, body = AuditPage), (status = 404, body = ErrorBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    Authed(ctx): Authed,
    scope: Scope,
    Query(params): Query<AuditParams>,
) -> Result<Json<AuditPage>, AppError> {
    let filter = AuditFilter {
        secret_name: params.secret,
        event: params.event,
        before_id: params.before,
        limit: params.limit,
    };
    let limit = filter
        .limit
        .unwrap_or(50)
        .clamp(1, lumio_secrets::MAX_AUDIT_PAGE);
    let entries = state
        .service
        .audit_log(&ctx, &scope.extension, scope.environment, filter)
        .await?;
    let next_before = (entries.len() as i64 == limit)
        .then(|| entries.last().map(|e| e.id))
        .flatten();
    Ok(Json(AuditPage {
        entries: entries.into_iter().map(Into::into).collect(),
        next_before,
    }))
}
