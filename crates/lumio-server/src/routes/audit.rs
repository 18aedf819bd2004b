use axum::extract::{Path, Query, State};
use axum::Json;
use chrono::{DateTime, SecondsFormat, Utc};
use lumio_core::ExtensionSlug;
use lumio_secrets::{AuditFilter, ExportFilter};
use lumio_store::{AuditEntry, ChainVerdict, ChainedEntry};
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

/// The extension segment of an extension-wide route.
#[derive(Deserialize)]
pub(crate) struct ExtPath {
    ext: String,
}

impl ExtPath {
    fn slug(&self) -> Result<ExtensionSlug, AppError> {
        ExtensionSlug::parse(&self.ext).map_err(|e| AppError::invalid(e.to_string()))
    }
}

#[derive(Serialize, ToSchema)]
pub(crate) struct ChainBreakView {
    /// The offending record's id; null when the record is missing.
    id: Option<i64>,
    seq: i64,
    /// `changed`, `removed`, `inserted` or `truncated`.
    kind: String,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct VerifyAnswer {
    /// Whether every record after the retention anchor is in place and unchanged.
    ok: bool,
    /// Records walked (when ok).
    records: Option<u64>,
    /// The chain's last record (when ok): keep these elsewhere to detect a chain
    /// rewritten as a whole.
    head_seq: Option<i64>,
    /// Hex SHA-256.
    head_hash: Option<String>,
    /// The first record found changed, removed or inserted (when not ok).
    first_bad: Option<ChainBreakView>,
}

/// Walks the extension's audit hash chain (both environments) and reports the first
/// record changed, removed or inserted. A tampered chain is a 200 with `ok: false`.
#[utoipa::path(get, path = "/api/v1/extensions/{ext}/audit/verify", security(("bearer" = [])),
    params(("ext" = String, Path)),
    responses((status = 200, body = VerifyAnswer), (status = 404, body = ErrorBody)))]
pub(crate) async fn verify(
    State(state): State<AppState>,
    Authed(ctx): Authed,
    Path(path): Path<ExtPath>,
) -> Result<Json<VerifyAnswer>, AppError> {
    let verdict = state.service.verify_audit(&ctx, &path.slug()?).await?;
    Ok(Json(match verdict {
        ChainVerdict::Intact {
            records,
            head_seq,
            head_hash,
        } => VerifyAnswer {
            ok: true,
            records: Some(records),
            head_seq: Some(head_seq),
            head_hash: Some(hex::encode(head_hash)),
            first_bad: None,
        },
        ChainVerdict::Broken(b) => VerifyAnswer {
            ok: false,
            records: None,
            head_seq: None,
            head_hash: None,
            first_bad: Some(ChainBreakView {
                id: b.id,
                seq: b.seq,
                kind: b.kind.as_str().to_owned(),
            }),
        },
    }))
}

#[derive(Deserialize, IntoParams)]
pub(crate) struct ExportParams {
    /// Only records stamped at or after this (RFC 3339).
    since: Option<DateTime<Utc>>,
    /// The previous page's `next_cursor`.
    cursor: Option<i64>,
    /// Page size, default 500, at most 1000.
    limit: Option<i64>,
}

/// One record as exported: every field the hash covers (docs/audit-chain.md).
#[derive(Serialize, ToSchema)]
pub(crate) struct ChainedRecordView {
    id: i64,
    /// Its place in the extension's chain; null until sealed (well under a second).
    seq: Option<i64>,
    /// Hex SHA-256 over the previous record's hash and this record; null until sealed.
    hash: Option<String>,
    extension_id: i64,
    /// RFC 3339 with microseconds, the precision the hash covers.
    at: String,
    environment: Option<String>,
    event: String,
    secret: Option<String>,
    actor: Option<String>,
    action: Option<String>,
    request_id: Option<String>,
    outcome: Option<String>,
    detail: Option<String>,
}

impl From<ChainedEntry> for ChainedRecordView {
    fn from(chained: ChainedEntry) -> Self {
        let r = chained.entry.record;
        Self {
            id: chained.entry.id,
            seq: chained.seq,
            hash: chained.hash.map(hex::encode),
            extension_id: r.extension_id,
            at: r.at.to_rfc3339_opts(SecondsFormat::Micros, true),
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
pub(crate) struct ExportPage {
    records: Vec<ChainedRecordView>,
    /// Pass as `cursor` for the next page; null on the last page.
    next_cursor: Option<i64>,
}

/// Every record of the extension (both environments), oldest first, with its seq and
/// hash: the audit log for a SIEM, paged by id.
#[utoipa::path(get, path = "/api/v1/extensions/{ext}/audit/export", security(("bearer" = [])),
    params(("ext" = String, Path), ExportParams),
    responses((status = 200, body = ExportPage), (status = 404, body = ErrorBody)))]
pub(crate) async fn export(
    State(state): State<AppState>,
    Authed(ctx): Authed,
    Path(path): Path<ExtPath>,
    Query(params): Query<ExportParams>,
) -> Result<Json<ExportPage>, AppError> {
    let filter = ExportFilter {
        since: params.since,
        after_id: params.cursor,
        limit: params.limit,
    };
    let limit = filter
        .limit
        .unwrap_or(500)
        .clamp(1, lumio_secrets::MAX_EXPORT_PAGE);
    let records = state
        .service
        .export_audit(&ctx, &path.slug()?, filter)
        .await?;
    let next_cursor = (records.len() as i64 == limit)
        .then(|| records.last().map(|r| r.entry.id))
        .flatten();
    Ok(Json(ExportPage {
        records: records.into_iter().map(Into::into).collect(),
        next_cursor,
    }))
}
