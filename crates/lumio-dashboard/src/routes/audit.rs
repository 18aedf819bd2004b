//! The audit log page: newest first, filtered by secret name and event, paged by id.

use axum::extract::{Path, Query, State};
use lumio_secrets::AuditFilter;
use maud::Markup;
use serde::Deserialize;

use super::parse_slug;
use crate::error::PageError;
use crate::forms::{home_environment, parse_env};
use crate::session::SignedIn;
use crate::views::audit::AuditPage;
use crate::{views, DashState};

/// Entries per page.
const PAGE: usize = 50;

#[derive(Deserialize)]
pub(crate) struct AuditQuery {
    #[serde(default)]
    env: Option<String>,
    #[serde(default)]
    secret: Option<String>,
    #[serde(default)]
    event: Option<String>,
    #[serde(default)]
    before: Option<i64>,
}

/// Empty filter fields mean "any".
fn non_empty(field: &Option<String>) -> Option<String> {
    field
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

pub(crate) async fn page(
    State(state): State<DashState>,
    signed: SignedIn,
    Path(ext): Path<String>,
    Query(query): Query<AuditQuery>,
) -> Result<Markup, PageError> {
    let slug = parse_slug(&ext)?;
    let env = match query.env.as_deref() {
        None | Some("") => home_environment(&signed.ctx.principal),
        given => parse_env(given)?,
    };
    let secret = non_empty(&query.secret);
    let event = non_empty(&query.event);
    // One more than a page tells whether an older page exists.
    let filter = AuditFilter {
        secret_name: secret.clone(),
        event: event.clone(),
        before_id: query.before,
        limit: Some(PAGE as i64 + 1),
    };
    let mut entries = state
        .service
        .audit_log(&signed.ctx, &slug, env, filter)
        .await?;
    let next_before = if entries.len() > PAGE {
        entries.truncate(PAGE);
        entries.last().map(|entry| entry.id)
    } else {
        None
    };
    let labels = state.service.token_labels(&signed.ctx, &slug).await?;
    Ok(views::audit::page(AuditPage {
        csrf: &signed.csrf,
        scope: signed.ctx.principal.environment,
        slug: &slug,
        env,
        secret: secret.as_deref().unwrap_or(""),
        event: event.as_deref().unwrap_or(""),
        paged: query.before.is_some(),
        entries: &entries,
        labels: &labels,
        next_before,
    }))
}
