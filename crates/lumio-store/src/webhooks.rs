//! Webhook receivers, the outbox of change events, and their deliveries: the same SQL on
//! both backends (see the migration `*_webhooks.sql` for how the outbox is filled).

use chrono::{DateTime, Utc};
use lumio_core::{Environment, EventFilter};

use crate::stamp::{time, Stamp};
use crate::{rows, StoreError};

/// A receiver, as added and as stored. `secret_sealed` is its signing secret sealed by
/// `lumio-crypto`.
#[derive(Clone)]
pub struct WebhookRecord {
    pub id: String,
    pub extension_id: i64,
    pub url: String,
    pub events: EventFilter,
    pub environment: Option<Environment>,
    pub secret_sealed: Vec<u8>,
    pub kek_id: String,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
}

impl std::fmt::Debug for WebhookRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookRecord")
            .field("id", &self.id)
            .field("extension_id", &self.extension_id)
            .field("events", &self.events)
            .field("environment", &self.environment)
            .finish_non_exhaustive()
    }
}

/// A change event from the outbox: an audit record's fields, never a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeEvent {
    pub id: i64,
    pub extension_id: i64,
    pub extension: String,
    pub environment: Option<String>,
    pub event: String,
    pub secret_name: Option<String>,
    pub actor: Option<String>,
    pub detail: Option<String>,
    pub at: DateTime<Utc>,
}

/// The next delivery a receiver is owed (the oldest pending one), due now.
#[derive(Debug, Clone)]
pub struct DueDelivery {
    pub id: i64,
    pub attempts: i32,
    pub first_attempt_at: Option<DateTime<Utc>>,
    pub webhook: WebhookRecord,
    pub event: ChangeEvent,
}

/// What one attempt came to.
#[derive(Debug, Clone)]
pub struct AttemptResult {
    pub delivery_id: i64,
    pub at: DateTime<Utc>,
    pub status: Option<i32>,
    pub error: Option<String>,
    pub next: NextStep,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    Delivered,
    RetryAt(DateTime<Utc>),
    GiveUp,
}

/// A delivery as `lumio webhooks deliveries` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    pub id: i64,
    pub event_id: i64,
    pub event: String,
    pub environment: Option<String>,
    pub secret_name: Option<String>,
    pub webhook_id: String,
    pub state: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// A due-date notice to send once (see the `*_notices.sql` migration).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueNotice {
    pub extension_id: i64,
    pub environment: Environment,
    pub name: String,
    /// `expiry` or `rotation`.
    pub kind: &'static str,
    pub due_at: DateTime<Utc>,
    /// `30d`, `7d`, `1d` or `due`.
    pub notice: &'static str,
    pub sent_at: DateTime<Utc>,
}

/// Events fanned out per pass.
pub(crate) const FAN_OUT_BATCH: i64 = 500;

pub(crate) const WEBHOOK_COLUMNS: &str = "w.id, w.extension_id, w.url, w.events, w.environment, \
     w.secret_sealed, w.kek_id, w.created_at, w.created_by";

#[derive(sqlx::FromRow)]
pub(crate) struct WebhookRow {
    id: String,
    extension_id: i64,
    url: String,
    events: String,
    environment: Option<String>,
    secret_sealed: Vec<u8>,
    kek_id: String,
    created_at: Stamp,
    created_by: String,
}

impl WebhookRow {
    pub(crate) fn record(self) -> Result<WebhookRecord, StoreError> {
        Ok(WebhookRecord {
            events: EventFilter::parse(&self.events)
                .map_err(|_| rows::corrupt("webhook events", &self.events))?,
            environment: self
                .environment
                .as_deref()
                .map(rows::environment)
                .transpose()?,
            id: self.id,
            extension_id: self.extension_id,
            url: self.url,
            secret_sealed: self.secret_sealed,
            kek_id: self.kek_id,
            created_at: self.created_at.0,
            created_by: self.created_by,
        })
    }
}

/// [`DueDelivery`]'s columns (the delivery's, the receiver's, the event's) for each
/// receiver's oldest pending delivery, if due by `$1`; at most `$2`. `firsts` finds those
/// oldest ones: a walk of the pending-deliveries index, once per receiver, so the cost
/// does not grow with a receiver's backlog.
pub(crate) fn select_due(one_receiver: bool) -> String {
    let firsts = if one_receiver {
        "SELECT MIN(id) AS first FROM ext_webhook_deliveries \
         WHERE webhook_id = $3 AND state = 'pending'"
    } else {
        "SELECT MIN(id) AS first FROM ext_webhook_deliveries \
         WHERE state = 'pending' GROUP BY webhook_id"
    };
    format!(
        "SELECT d.id AS delivery_id, d.attempts, d.first_attempt_at, {WEBHOOK_COLUMNS}, \
         e.id AS event_id, e.environment AS event_environment, e.event, e.secret_name, \
         e.actor, e.detail, e.at, x.slug \
         FROM ({firsts}) f \
         JOIN ext_webhook_deliveries d ON d.id = f.first \
         JOIN ext_webhooks w ON w.id = d.webhook_id \
         JOIN ext_events e ON e.id = d.event_id \
         JOIN extensions x ON x.id = d.extension_id \
         WHERE d.next_attempt_at <= $1 ORDER BY d.id LIMIT $2"
    )
}

#[derive(sqlx::FromRow)]
pub(crate) struct DueRow {
    delivery_id: i64,
    attempts: i32,
    first_attempt_at: Option<Stamp>,
    #[sqlx(flatten)]
    webhook: WebhookRow,
    event_id: i64,
    event_environment: Option<String>,
    event: String,
    secret_name: Option<String>,
    actor: Option<String>,
    detail: Option<String>,
    at: Stamp,
    slug: String,
}

impl DueRow {
    pub(crate) fn due(self) -> Result<DueDelivery, StoreError> {
        let webhook = self.webhook.record()?;
        Ok(DueDelivery {
            id: self.delivery_id,
            attempts: self.attempts,
            first_attempt_at: time(self.first_attempt_at),
            event: ChangeEvent {
                id: self.event_id,
                extension_id: webhook.extension_id,
                extension: self.slug,
                environment: self.event_environment,
                event: self.event,
                secret_name: self.secret_name,
                actor: self.actor,
                detail: self.detail,
                at: self.at.0,
            },
            webhook,
        })
    }
}

pub(crate) const SELECT_DELIVERIES: &str = "SELECT d.id, d.event_id, e.event, e.environment, \
     e.secret_name, d.webhook_id, d.state, d.attempts, d.next_attempt_at, d.last_attempt_at, \
     d.last_status, d.last_error, d.delivered_at, d.created_at \
     FROM ext_webhook_deliveries d JOIN ext_events e ON e.id = d.event_id \
     WHERE d.extension_id = $1 \
     AND ($2 = 0 OR d.state = 'failed' OR (d.state = 'pending' AND d.attempts > 0)) \
     ORDER BY d.id DESC LIMIT $3";

#[derive(sqlx::FromRow)]
pub(crate) struct DeliveryRow {
    id: i64,
    event_id: i64,
    event: String,
    environment: Option<String>,
    secret_name: Option<String>,
    webhook_id: String,
    state: String,
    attempts: i32,
    next_attempt_at: Stamp,
    last_attempt_at: Option<Stamp>,
    last_status: Option<i32>,
    last_error: Option<String>,
    delivered_at: Option<Stamp>,
    created_at: Stamp,
}

impl DeliveryRow {
    pub(crate) fn record(self) -> DeliveryRecord {
        DeliveryRecord {
            id: self.id,
            event_id: self.event_id,
            event: self.event,
            environment: self.environment,
            secret_name: self.secret_name,
            webhook_id: self.webhook_id,
            state: self.state,
            attempts: self.attempts,
            next_attempt_at: self.next_attempt_at.0,
            last_attempt_at: time(self.last_attempt_at),
            last_status: self.last_status,
            last_error: self.last_error,
            delivered_at: time(self.delivered_at),
            created_at: self.created_at.0,
        }
    }
}

/// Takes or renews lease `$1` for holder `$2` until `$3`, unless another holds it past `$4`.
pub(crate) const TAKE_LEASE: &str = "INSERT INTO lumio_leases (name, holder, until) \
     VALUES ($1, $2, $3) ON CONFLICT (name) DO UPDATE \
     SET holder = excluded.holder, until = excluded.until \
     WHERE lumio_leases.holder = excluded.holder OR lumio_leases.until < $4";

pub(crate) const RECORD_ATTEMPT: &str = "UPDATE ext_webhook_deliveries \
     SET attempts = attempts + 1, last_attempt_at = $2, \
     first_attempt_at = COALESCE(first_attempt_at, $2), last_status = $3, last_error = $4, \
     state = $5, next_attempt_at = $6, delivered_at = $7 \
     WHERE id = $1 AND state = 'pending'";

/// Queues delivery `$1` of extension `$2` again from `$3`, if it is finished and its
/// receiver is still there.
pub(crate) const REDELIVER: &str = "UPDATE ext_webhook_deliveries \
     SET state = 'pending', attempts = 0, first_attempt_at = NULL, next_attempt_at = $3, \
     last_error = NULL, last_status = NULL, delivered_at = NULL \
     WHERE id = $1 AND extension_id = $2 AND state IN ('delivered', 'failed') \
     AND webhook_id IN (SELECT id FROM ext_webhooks WHERE removed_at IS NULL)";

/// Rows per retention statement.
pub(crate) const PRUNE_BATCH: i64 = 2000;

/// Retention, each `$1` the cut-off and `$2` the batch: finished deliveries, then events
/// no delivery needs any more, then receivers removed with nothing left of theirs.
pub(crate) const PRUNE: [&str; 3] = [
    "DELETE FROM ext_webhook_deliveries WHERE id IN (SELECT id FROM ext_webhook_deliveries \
     WHERE state <> 'pending' AND created_at < $1 ORDER BY id LIMIT $2)",
    "DELETE FROM ext_events WHERE id IN (SELECT e.id FROM ext_events e WHERE e.fanned_out = 1 \
     AND e.at < $1 AND NOT EXISTS (SELECT 1 FROM ext_webhook_deliveries d \
     WHERE d.event_id = e.id) ORDER BY e.id LIMIT $2)",
    "DELETE FROM ext_webhooks WHERE id IN (SELECT w.id FROM ext_webhooks w \
     WHERE w.removed_at < $1 AND NOT EXISTS (SELECT 1 FROM ext_webhook_deliveries d \
     WHERE d.webhook_id = w.id) ORDER BY w.id LIMIT $2)",
];

/// Whether a receiver wants an event: its extension, its environment (extension-wide
/// events go to every receiver), its filter, and not from before the receiver existed.
pub(crate) fn wants(webhook: &WebhookRecord, event: &FanOutRow) -> bool {
    webhook.extension_id == event.1
        && match (&webhook.environment, &event.2) {
            (Some(wanted), Some(env)) => wanted.as_str() == env,
            _ => true,
        }
        && webhook.events.matches(&event.3)
        && webhook.created_at <= event.4 .0
}

/// (id, extension id, environment, event, at) of an event not yet fanned out.
pub(crate) type FanOutRow = (i64, i64, Option<String>, String, Stamp);

/// The webhook methods as inherent methods of a store (see [`crate::store_impl`]).
macro_rules! webhook_queries {
    ($store:ty, $db:ty) => {
        impl $store {
            pub(crate) async fn webhook_insert(
                &self,
                hook: &$crate::WebhookRecord,
                audit: &[$crate::AuditRecord],
            ) -> Result<(), $crate::StoreError> {
                let mut tx = self.begin_write().await?;
                sqlx::query(
                    "INSERT INTO ext_webhooks (id, extension_id, url, events, environment, \
                     secret_sealed, kek_id, created_at, created_by) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(&hook.id)
                .bind(hook.extension_id)
                .bind(&hook.url)
                .bind(hook.events.to_text())
                .bind(hook.environment.map(|e| e.as_str()))
                .bind(&hook.secret_sealed)
                .bind(&hook.kek_id)
                .bind($crate::stamp::Stamp(hook.created_at))
                .bind(&hook.created_by)
                .execute(&mut *tx)
                .await?;
                Self::insert_change_records(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }

            pub(crate) async fn webhook_rows(
                &self,
                extension_id: Option<i64>,
            ) -> Result<Vec<$crate::WebhookRecord>, $crate::StoreError> {
                let sql = format!(
                    "SELECT {} FROM ext_webhooks w WHERE w.removed_at IS NULL \
                     AND (CAST($1 AS BIGINT) IS NULL OR w.extension_id = $1) \
                     ORDER BY w.created_at, w.id",
                    $crate::webhooks::WEBHOOK_COLUMNS
                );
                let rows: Vec<$crate::webhooks::WebhookRow> = sqlx::query_as(&sql)
                    .bind(extension_id)
                    .fetch_all(self.readers())
                    .await?;
                rows.into_iter().map(|row| row.record()).collect()
            }

            pub(crate) async fn webhook_remove(
                &self,
                extension_id: i64,
                id: &str,
                at: chrono::DateTime<chrono::Utc>,
                audit: &[$crate::AuditRecord],
            ) -> Result<bool, $crate::StoreError> {
                let mut tx = self.begin_write().await?;
                let removed = sqlx::query(
                    "UPDATE ext_webhooks SET removed_at = $3 \
                     WHERE id = $1 AND extension_id = $2 AND removed_at IS NULL",
                )
                .bind(id)
                .bind(extension_id)
                .bind($crate::stamp::Stamp(at))
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if removed == 0 {
                    tx.rollback().await?;
                    return Ok(false);
                }
                sqlx::query(
                    "UPDATE ext_webhook_deliveries SET state = 'cancelled' \
                     WHERE webhook_id = $1 AND state = 'pending'",
                )
                .bind(id)
                .execute(&mut *tx)
                .await?;
                Self::insert_change_records(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(true)
            }

            pub(crate) async fn webhook_reseal(
                &self,
                id: &str,
                old: &[u8],
                sealed: &[u8],
                kek_id: &str,
            ) -> Result<bool, $crate::StoreError> {
                let done = sqlx::query(
                    "UPDATE ext_webhooks SET secret_sealed = $3, kek_id = $4 \
                     WHERE id = $1 AND secret_sealed = $2",
                )
                .bind(id)
                .bind(old)
                .bind(sealed)
                .bind(kek_id)
                .execute(self.writer())
                .await?;
                Ok(done.rows_affected() == 1)
            }

            pub(crate) async fn deliveries_prune(
                &self,
                cutoff: chrono::DateTime<chrono::Utc>,
            ) -> Result<u64, $crate::StoreError> {
                let mut removed = 0;
                for sql in $crate::webhooks::PRUNE {
                    loop {
                        let done = sqlx::query(sql)
                            .bind($crate::stamp::Stamp(cutoff))
                            .bind($crate::webhooks::PRUNE_BATCH)
                            .execute(self.writer())
                            .await?
                            .rows_affected();
                        removed += done;
                        if done < $crate::webhooks::PRUNE_BATCH as u64 {
                            break;
                        }
                    }
                }
                Ok(removed)
            }

            pub(crate) async fn notice_record(
                &self,
                notice: &$crate::DueNotice,
                audit: &[$crate::AuditRecord],
            ) -> Result<bool, $crate::StoreError> {
                let mut tx = self.begin_write().await?;
                let fresh = sqlx::query(
                    "INSERT INTO ext_secret_notices \
                     (extension_id, environment, name, kind, due_at, notice, sent_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
                )
                .bind(notice.extension_id)
                .bind(notice.environment.as_str())
                .bind(&notice.name)
                .bind(notice.kind)
                .bind($crate::stamp::Stamp(notice.due_at))
                .bind(notice.notice)
                .bind($crate::stamp::Stamp(notice.sent_at))
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    == 1;
                if !fresh {
                    tx.rollback().await?;
                    return Ok(false);
                }
                Self::insert_change_records(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(true)
            }

            pub(crate) async fn lease_take(
                &self,
                name: &str,
                holder: &str,
                now: chrono::DateTime<chrono::Utc>,
                until: chrono::DateTime<chrono::Utc>,
            ) -> Result<bool, $crate::StoreError> {
                let taken = sqlx::query($crate::webhooks::TAKE_LEASE)
                    .bind(name)
                    .bind(holder)
                    .bind($crate::stamp::Stamp(until))
                    .bind($crate::stamp::Stamp(now))
                    .execute(self.writer())
                    .await?;
                Ok(taken.rows_affected() == 1)
            }

            pub(crate) async fn lease_release(
                &self,
                name: &str,
                holder: &str,
            ) -> Result<(), $crate::StoreError> {
                sqlx::query("DELETE FROM lumio_leases WHERE name = $1 AND holder = $2")
                    .bind(name)
                    .bind(holder)
                    .execute(self.writer())
                    .await?;
                Ok(())
            }

            pub(crate) async fn events_fan_out(
                &self,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<u64, $crate::StoreError> {
                use $crate::dialect::Dialect;
                let mut tx = self.begin_write().await?;
                let sql = format!(
                    "SELECT id, extension_id, environment, event, at FROM ext_events \
                     WHERE fanned_out = 0 AND tx < ({}) ORDER BY tx, id LIMIT $1",
                    <$db>::EVENTS_HORIZON
                );
                let events: Vec<$crate::webhooks::FanOutRow> = sqlx::query_as(&sql)
                    .bind($crate::webhooks::FAN_OUT_BATCH)
                    .fetch_all(&mut *tx)
                    .await?;
                if events.is_empty() {
                    tx.rollback().await?;
                    return Ok(0);
                }
                let hooks: Vec<$crate::webhooks::WebhookRow> = sqlx::query_as(&format!(
                    "SELECT {} FROM ext_webhooks w WHERE w.removed_at IS NULL",
                    $crate::webhooks::WEBHOOK_COLUMNS
                ))
                .fetch_all(&mut *tx)
                .await?;
                let hooks = hooks
                    .into_iter()
                    .map(|row| row.record())
                    .collect::<Result<Vec<_>, _>>()?;
                let mut pairs = Vec::new();
                let (mut wanted, mut unwanted) = (Vec::new(), Vec::new());
                for event in &events {
                    let before = pairs.len();
                    for hook in hooks.iter().filter(|h| $crate::webhooks::wants(h, event)) {
                        pairs.push((event.0, hook.id.as_str(), event.1));
                    }
                    if pairs.len() > before {
                        wanted.push(event.0);
                    } else {
                        unwanted.push(event.0);
                    }
                }
                // Pairs stay in event order, so delivery ids follow the events' order.
                for chunk in pairs.chunks(200) {
                    let mut sql = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO ext_webhook_deliveries \
                         (event_id, webhook_id, extension_id, state, next_attempt_at, created_at) ",
                    );
                    sql.push_values(chunk, |mut row, (event_id, hook, extension_id)| {
                        row.push_bind(*event_id)
                            .push_bind(*hook)
                            .push_bind(*extension_id)
                            .push_bind("pending")
                            .push_bind($crate::stamp::Stamp(now))
                            .push_bind($crate::stamp::Stamp(now));
                    });
                    sql.push(" ON CONFLICT (event_id, webhook_id) DO NOTHING");
                    sql.build().execute(&mut *tx).await?;
                }
                // An event no receiver wants is not kept.
                for (ids, statement) in [
                    (&wanted, "UPDATE ext_events SET fanned_out = 1 WHERE id IN ("),
                    (&unwanted, "DELETE FROM ext_events WHERE id IN ("),
                ] {
                    for chunk in ids.chunks(200) {
                        let mut sql = sqlx::QueryBuilder::<$db>::new(statement);
                        let mut list = sql.separated(", ");
                        for id in chunk {
                            list.push_bind(*id);
                        }
                        sql.push(")");
                        sql.build().execute(&mut *tx).await?;
                    }
                }
                tx.commit().await?;
                Ok(events.len() as u64)
            }

            pub(crate) async fn deliveries_due(
                &self,
                now: chrono::DateTime<chrono::Utc>,
                limit: i64,
                webhook: Option<&str>,
            ) -> Result<Vec<$crate::DueDelivery>, $crate::StoreError> {
                let sql = $crate::webhooks::select_due(webhook.is_some());
                let mut query = sqlx::query_as(&sql)
                    .bind($crate::stamp::Stamp(now))
                    .bind(limit);
                if let Some(webhook) = webhook {
                    query = query.bind(webhook);
                }
                let rows: Vec<$crate::webhooks::DueRow> = query.fetch_all(self.readers()).await?;
                rows.into_iter().map(|row| row.due()).collect()
            }

            pub(crate) async fn attempt_record(
                &self,
                result: &$crate::AttemptResult,
                audit: &[$crate::AuditRecord],
            ) -> Result<(), $crate::StoreError> {
                use $crate::NextStep;
                let (state, next, delivered) = match result.next {
                    NextStep::Delivered => ("delivered", result.at, Some(result.at)),
                    NextStep::RetryAt(at) => ("pending", at, None),
                    NextStep::GiveUp => ("failed", result.at, None),
                };
                let mut tx = self.begin_write().await?;
                sqlx::query($crate::webhooks::RECORD_ATTEMPT)
                    .bind(result.delivery_id)
                    .bind($crate::stamp::Stamp(result.at))
                    .bind(result.status)
                    .bind(result.error.as_deref())
                    .bind(state)
                    .bind($crate::stamp::Stamp(next))
                    .bind(delivered.map($crate::stamp::Stamp))
                    .execute(&mut *tx)
                    .await?;
                Self::insert_change_records(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }

            pub(crate) async fn delivery_rows(
                &self,
                extension_id: i64,
                failed_only: bool,
                limit: i64,
            ) -> Result<Vec<$crate::DeliveryRecord>, $crate::StoreError> {
                let rows: Vec<$crate::webhooks::DeliveryRow> =
                    sqlx::query_as($crate::webhooks::SELECT_DELIVERIES)
                        .bind(extension_id)
                        .bind(i32::from(failed_only))
                        .bind(limit)
                        .fetch_all(self.readers())
                        .await?;
                Ok(rows.into_iter().map(|row| row.record()).collect())
            }

            pub(crate) async fn delivery_requeue(
                &self,
                extension_id: i64,
                delivery_id: i64,
                now: chrono::DateTime<chrono::Utc>,
                audit: &[$crate::AuditRecord],
            ) -> Result<bool, $crate::StoreError> {
                let mut tx = self.begin_write().await?;
                let queued = sqlx::query($crate::webhooks::REDELIVER)
                    .bind(delivery_id)
                    .bind(extension_id)
                    .bind($crate::stamp::Stamp(now))
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if queued == 0 {
                    tx.rollback().await?;
                    return Ok(false);
                }
                Self::insert_change_records(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(true)
            }
        }
    };
}

pub(crate) use webhook_queries;

#[cfg(test)]
mod tests {
    use lumio_core::AuditEvent;

    /// The events each migration's trigger leaves out of the outbox.
    fn left_out(migration: &str) -> Vec<String> {
        let list = migration
            .split("NOT IN (")
            .nth(1)
            .and_then(|rest| rest.split(')').next())
            .expect("the trigger's NOT IN list");
        list.split(',')
            .map(|name| name.trim().trim_matches('\'').to_owned())
            .collect()
    }

    #[test]
    fn the_outbox_triggers_leave_out_exactly_the_events_that_are_no_change() {
        let mut expected: Vec<String> = AuditEvent::ALL
            .iter()
            .filter(|event| !event.is_change_event())
            .map(|event| event.as_str().to_owned())
            .collect();
        expected.sort();
        for migration in [
            include_str!("../migrations/postgres/20250113000002_webhooks.sql"),
            include_str!("../migrations/sqlite/20250113000002_webhooks.sql"),
        ] {
            let mut listed = left_out(migration);
            listed.sort();
            assert_eq!(listed, expected);
        }
    }
}
