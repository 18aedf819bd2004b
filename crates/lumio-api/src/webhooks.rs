//! Webhooks: receivers of an extension's change events, and their deliveries.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Adds a receiver.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AddWebhook {
    /// Where events are POSTed: http or https, a public address unless the server runs
    /// with `--allow-private-fetch`; it must answer when added.
    #[schema(min_length = 1, max_length = 2048)]
    pub url: String,
    /// Comma-separated: `*` (the default), a family such as `secret.*`, or event names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<String>,
    /// Only this environment's events (and extension-wide ones); both when absent.
    #[schema(pattern = r"^(staging|production)$")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
}

/// A receiver: never its signing secret.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WebhookView {
    pub id: String,
    pub url: String,
    pub events: String,
    pub env: Option<String>,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
}

/// A receiver just added, with its signing secret: shown this once.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AddedWebhook {
    pub webhook: WebhookView,
    /// `whsec_…`: verify `webhook-signature` with it (Standard Webhooks). Not shown again.
    pub signing_secret: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WebhookList {
    pub webhooks: Vec<WebhookView>,
}

/// What a test event's delivery came to.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WebhookTestResult {
    /// The receiver answered 2xx.
    pub delivered: bool,
    /// The receiver's status, if it answered.
    pub status: Option<u16>,
    /// Why there was no answer, or what was wrong with it.
    pub error: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveriesQuery {
    /// Only deliveries not delivered that failed at least once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<bool>,
    /// Page size, default 50, at most 500.
    #[param(minimum = 1, maximum = 500)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
}

/// One event to one receiver.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeliveryView {
    pub id: i64,
    /// The `webhook-id` the receiver sees (the same at every attempt).
    pub event_id: String,
    pub event: String,
    pub env: Option<String>,
    pub secret: Option<String>,
    pub webhook: String,
    /// `pending`, `delivered`, `failed` (given up) or `cancelled` (receiver removed).
    pub state: String,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeliveryList {
    pub deliveries: Vec<DeliveryView>,
}

/// A delivery queued again.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Redelivered {
    pub id: i64,
    /// `pending`: it goes out with the receiver's next deliveries, in order.
    pub state: String,
}
