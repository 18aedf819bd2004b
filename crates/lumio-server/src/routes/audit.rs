//! The audit log: a page of one environment, the extension's chain check, export and
//! chain key.

use axum::extract::State;
use axum::Json;
use chrono::SecondsFormat;
use lumio_api::audit::{
    AuditEntryView, AuditKeyAnswer, AuditPage, AuditQuery, ChainBreakView, ChainedRecordView,
    ExportPage, ExportQuery, VerifyAnswer,
};
use lumio_api::params::{ExtPath, ScopePath};
use lumio_api::ErrorBody;
use lumio_secrets::{AuditEntry, ChainVerdict, ChainedEntry};
use lumio_secrets::{AuditFilter, ExportFilter};

use super::extensions::slug;
use super::paths::Scope;
use crate::api_error::AppError;
use crate::auth::Authed;
use crate::json::{ApiPath, ApiQuery};
use crate::AppState;

fn entry_view(entry: AuditEntry) -> AuditEntryView {
    let r = entry.record;
    AuditEntryView {
        id: entry.id,
        at: r.at,
        environment: r.environment.map(|e| e.as_str().to_owned()),
        event: r.event.as_str().to_owned(),
        secret: r.secret_name,
        actor: r.actor,
        action: r.action,
        request_id: r.request_id,
        outcome: r.outcome,
        detail: r.detail,
    }
}

/// The audit log, newest first: reads by actions and changes by people. Never values.
#[utoipa::path(get, path = "/api/v1/extensions/{ext}/environments/{env}/audit", tag = "audit",
    security(("bearer" = [])), params(ScopePath, AuditQuery),
    responses((status = 200, body = AuditPage)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    Authed(ctx): Authed,
    scope: Scope,
    ApiQuery(params): ApiQuery<AuditQuery>,
) -> Result<Json<AuditPage>, AppError> {
    let filter = AuditFilter {
        secret_name: params.secret,
        event: params.event.map(|e| e.as_str().to_owned()),
        before_id: params.before,
        limit: params.limit,
    };
    let limit = super::page_limit(filter.limit, 50, lumio_secrets::MAX_AUDIT_PAGE)?;
    super::cursor_in_range("before", filter.before_id)?;
    let entries = state
        .service
        .audit_log(&ctx, &scope.extension, scope.environment, filter)
        .await?;
    let next_before = (entries.len() as i64 == limit)
        .then(|| entries.last().map(|e| e.id))
        .flatten();
    Ok(Json(AuditPage {
        entries: entries.into_iter().map(entry_view).collect(),
        next_before,
    }))
}

fn record_view(chained: ChainedEntry) -> ChainedRecordView {
    let r = chained.entry.record;
    ChainedRecordView {
        id: chained.entry.id,
        seq: chained.seq,
        hash: chained.hash.map(hex::encode),
        extension_id: r.extension_id,
        at: r.at.to_rfc3339_opts(SecondsFormat::Micros, true),
        environment: r.environment.map(|e| e.as_str().to_owned()),
        event: r.event.as_str().to_owned(),
        secret: r.secret_name,
        actor: r.actor,
        action: r.action,
        request_id: r.request_id,
        outcome: r.outcome,
        detail: r.detail,
    }
}

/// Walks the extension's audit hash chain (both environments) and reports the first
/// record changed, removed or inserted. A tampered chain is a 200 with `ok: false`.
#[utoipa::path(get, path = "/api/v1/extensions/{ext}/audit/verify", tag = "audit",
    security(("bearer" = [])), params(ExtPath),
    responses((status = 200, body = VerifyAnswer)))]
pub(crate) async fn verify(
    State(state): State<AppState>,
    Authed(ctx): Authed,
    ApiPath(path): ApiPath<ExtPath>,
) -> Result<Json<VerifyAnswer>, AppError> {
    let verdict = state.service.verify_audit(&ctx, &slug(&path)?).await?;
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

/// Every record of the extension (both environments), oldest first, with its seq and
/// hash: the audit log for a SIEM, paged by id.
#[utoipa::path(get, path = "/api/v1/extensions/{ext}/audit/export", tag = "audit",
    security(("bearer" = [])), params(ExtPath, ExportQuery),
    responses((status = 200, body = ExportPage)))]
pub(crate) async fn export(
    State(state): State<AppState>,
    Authed(ctx): Authed,
    ApiPath(path): ApiPath<ExtPath>,
    ApiQuery(params): ApiQuery<ExportQuery>,
) -> Result<Json<ExportPage>, AppError> {
    let filter = ExportFilter {
        since: params.since,
        after_id: params.cursor,
        limit: params.limit,
    };
    let limit = super::page_limit(filter.limit, 500, lumio_secrets::MAX_EXPORT_PAGE)?;
    super::cursor_in_range("cursor", filter.after_id)?;
    let records = state
        .service
        .export_audit(&ctx, &slug(&path)?, filter)
        .await?;
    let next_cursor = (records.len() as i64 == limit)
        .then(|| records.last().map(|r| r.entry.id))
        .flatten();
    Ok(Json(ExportPage {
        records: records.into_iter().map(record_view).collect(),
        next_cursor,
    }))
}

/// The extension's audit chain key (hex), for the offline verifier of
/// docs/audit-chain.md. Only an owner token of the extension gets it; the export is
/// audited (`audit.key_exported`) before the key is returned.
#[utoipa::path(post, path = "/api/v1/extensions/{ext}/audit/key", tag = "audit",
    security(("bearer" = [])), params(ExtPath),
    responses((status = 200, body = AuditKeyAnswer),
        (status = 403, body = ErrorBody, description = "not an owner token of this extension; instance admins do not get it (`forbidden`)")))]
pub(crate) async fn export_key(
    State(state): State<AppState>,
    Authed(ctx): Authed,
    ApiPath(path): ApiPath<ExtPath>,
) -> Result<Json<AuditKeyAnswer>, AppError> {
    let (extension_id, key) = state.service.export_chain_key(&ctx, &slug(&path)?).await?;
    Ok(Json(AuditKeyAnswer {
        extension_id,
        key: hex::encode(key.expose()),
        encoding: String::from_utf8_lossy(lumio_core::CHAIN_TAG).into_owned(),
    }))
}
