//! `/api/v1/extensions/{ext}/webhooks` and `…/webhook-deliveries`: receivers of change
//! events (add, list, remove, test) and what was delivered to them (list, redeliver).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use lumio_api::params::{DeliveryPath, ExtPath, WebhookPath};
use lumio_api::webhooks::{
    AddWebhook, AddedWebhook, DeliveriesQuery, DeliveryList, DeliveryView, Redelivered,
    WebhookList, WebhookTestResult, WebhookView,
};
use lumio_core::{Environment, EventFilter, ExtensionSlug};
use lumio_secrets::{ChangeEvent, DeliveryRecord, WebhookSummary, MAX_DELIVERIES_PAGE};

use super::extensions::slug;
use super::page_limit;
use crate::api_error::AppError;
use crate::auth::Authed;
use crate::json::{ApiJson, ApiPath, ApiQuery};
use crate::AppState;

fn view(hook: WebhookSummary) -> WebhookView {
    WebhookView {
        id: hook.id,
        url: hook.url,
        events: hook.events,
        env: hook.environment.map(|e| e.to_string()),
        created_at: hook.created_at,
        created_by: hook.created_by,
    }
}

fn delivery_view(d: DeliveryRecord) -> DeliveryView {
    DeliveryView {
        id: d.id,
        event_id: format!("evt_{}", d.event_id),
        event: d.event,
        env: d.environment,
        secret: d.secret_name,
        webhook: d.webhook_id,
        next_attempt_at: (d.state == "pending").then_some(d.next_attempt_at),
        state: d.state,
        attempts: d.attempts,
        last_attempt_at: d.last_attempt_at,
        last_status: d.last_status,
        last_error: d.last_error,
        delivered_at: d.delivered_at,
        created_at: d.created_at,
    }
}

/// Well-formed but not acceptable (a URL Lumio may not or cannot reach, events that name
/// nothing): 422, as the document says.
fn unprocessable(message: String) -> AppError {
    AppError::new(lumio_api::ErrorCode::Unprocessable, message)
}

fn webhook_slug(path: &WebhookPath) -> Result<ExtensionSlug, AppError> {
    ExtensionSlug::parse(&path.ext).map_err(|e| AppError::invalid(e.to_string()))
}

/// Adds a receiver (owners). The URL must be allowed by `ctx.fetch`'s address rules and
/// answer now; the signing secret is in this answer only.
#[utoipa::path(post, path = "/api/v1/extensions/{ext}/webhooks", tag = "webhooks",
    security(("bearer" = [])), params(ExtPath), request_body = AddWebhook,
    responses((status = 201, body = AddedWebhook),
        (status = 422, body = lumio_api::ErrorBody, description = "a private or unreachable URL, or events that name no change event")))]
pub(crate) async fn add(
    State(state): State<AppState>,
    Authed(ctx): Authed,
    ApiPath(path): ApiPath<ExtPath>,
    ApiJson(body): ApiJson<AddWebhook>,
) -> Result<(StatusCode, Json<AddedWebhook>), AppError> {
    let slug = slug(&path)?;
    let events = match body.events.as_deref() {
        None => EventFilter::all(),
        Some(text) => EventFilter::parse(text).map_err(|e| unprocessable(e.to_string()))?,
    };
    let environment = body
        .env
        .as_deref()
        .map(Environment::parse)
        .transpose()
        .map_err(|e| AppError::invalid(e.to_string()))?;
    // Who may add one is checked before the URL is tried: no one else can use this
    // server to probe addresses.
    state
        .service
        .check_webhook_add(&ctx, &slug, environment)
        .await?;
    let client = &state.webhook_client;
    let url = client
        .check(body.url.trim())
        .map_err(|why| unprocessable(format!("webhook URL {why}")))?;
    client.reachable(&url).await.map_err(|why| {
        unprocessable(format!(
            "webhook URL unreachable: {why}; start the receiver, or check the URL"
        ))
    })?;
    let added = state
        .service
        .add_webhook(&ctx, &slug, url.as_str(), events, environment)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(AddedWebhook {
            webhook: view(added.webhook),
            signing_secret: added.signing_secret.expose().to_owned(),
        }),
    ))
}

/// The extension's receivers (its members).
#[utoipa::path(get, path = "/api/v1/extensions/{ext}/webhooks", tag = "webhooks",
    security(("bearer" = [])), params(ExtPath), responses((status = 200, body = WebhookList)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    Authed(ctx): Authed,
    ApiPath(path): ApiPath<ExtPath>,
) -> Result<Json<WebhookList>, AppError> {
    let hooks = state.service.list_webhooks(&ctx, &slug(&path)?).await?;
    Ok(Json(WebhookList {
        webhooks: hooks.into_iter().map(view).collect(),
    }))
}

/// Removes a receiver (owners); what it was still owed is cancelled.
#[utoipa::path(delete, path = "/api/v1/extensions/{ext}/webhooks/{id}", tag = "webhooks",
    security(("bearer" = [])), params(WebhookPath), responses((status = 200, body = WebhookView)))]
pub(crate) async fn remove(
    State(state): State<AppState>,
    Authed(ctx): Authed,
    ApiPath(path): ApiPath<WebhookPath>,
) -> Result<Json<WebhookView>, AppError> {
    let removed = state
        .service
        .remove_webhook(&ctx, &webhook_slug(&path)?, &path.id)
        .await?;
    Ok(Json(view(removed)))
}

/// Sends the receiver a signed `webhook.test` event now and says how it answered.
#[utoipa::path(post, path = "/api/v1/extensions/{ext}/webhooks/{id}/test", tag = "webhooks",
    security(("bearer" = [])), params(WebhookPath), responses((status = 200, body = WebhookTestResult)))]
pub(crate) async fn test(
    State(state): State<AppState>,
    Authed(ctx): Authed,
    ApiPath(path): ApiPath<WebhookPath>,
) -> Result<Json<WebhookTestResult>, AppError> {
    let slug = webhook_slug(&path)?;
    let target = state.service.webhook_target(&ctx, &slug, &path.id).await?;
    let mut random = [0u8; 8];
    let _ = getrandom::getrandom(&mut random);
    let event = ChangeEvent {
        id: i64::from_le_bytes(random).unsigned_abs() as i64 & ((1 << 53) - 1),
        extension_id: target.webhook.extension_id,
        extension: slug.to_string(),
        environment: target.webhook.environment.map(|e| e.to_string()),
        event: "webhook.test".to_owned(),
        secret_name: None,
        actor: Some(ctx.principal.actor()),
        detail: Some(format!("test event for {}", target.webhook.id)),
        at: state.service.now(),
    };
    let outcome = crate::webhooks::send(
        &state.service,
        &state.webhook_client,
        &target.webhook,
        &event,
    )
    .await;
    state
        .service
        .record_webhook_test(&ctx, &target.webhook, outcome.clone())
        .await?;
    Ok(Json(match outcome {
        Ok(status) => WebhookTestResult {
            delivered: (200..300).contains(&status),
            status: Some(status),
            error: (!(200..300).contains(&status))
                .then(|| format!("the receiver answered {status}; it must answer 2xx")),
        },
        Err(error) => WebhookTestResult {
            delivered: false,
            status: None,
            error: Some(error),
        },
    }))
}

/// The extension's deliveries, newest first (its members).
#[utoipa::path(get, path = "/api/v1/extensions/{ext}/webhook-deliveries", tag = "webhooks",
    security(("bearer" = [])), params(ExtPath, DeliveriesQuery),
    responses((status = 200, body = DeliveryList)))]
pub(crate) async fn deliveries(
    State(state): State<AppState>,
    Authed(ctx): Authed,
    ApiPath(path): ApiPath<ExtPath>,
    ApiQuery(query): ApiQuery<DeliveriesQuery>,
) -> Result<Json<DeliveryList>, AppError> {
    let limit = page_limit(query.limit, 50, MAX_DELIVERIES_PAGE)?;
    let found = state
        .service
        .webhook_deliveries(&ctx, &slug(&path)?, query.failed.unwrap_or(false), limit)
        .await?;
    Ok(Json(DeliveryList {
        deliveries: found.into_iter().map(delivery_view).collect(),
    }))
}

/// Queues a delivered or failed delivery again, with the same `webhook-id`.
#[utoipa::path(post, path = "/api/v1/extensions/{ext}/webhook-deliveries/{id}/redeliver",
    tag = "webhooks", security(("bearer" = [])), params(DeliveryPath),
    responses((status = 202, body = Redelivered)))]
pub(crate) async fn redeliver(
    State(state): State<AppState>,
    Authed(ctx): Authed,
    ApiPath(path): ApiPath<DeliveryPath>,
) -> Result<(StatusCode, Json<Redelivered>), AppError> {
    let slug = ExtensionSlug::parse(&path.ext).map_err(|e| AppError::invalid(e.to_string()))?;
    state.service.redeliver(&ctx, &slug, path.id).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Redelivered {
            id: path.id,
            state: "pending".to_owned(),
        }),
    ))
}
