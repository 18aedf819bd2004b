//! Webhook receivers (add, list, remove, deliveries, redeliver), and what the server's
//! deliverer needs of the store: the lease, the outbox's fan-out, due deliveries and
//! their outcomes. Change events themselves are written by the store, in each change's
//! own transaction (the outbox is fed from the audit log).
//!
//! A receiver's URL may carry a credential (chat services put one in the path), so it is
//! shown to the extension's members only, and audit records name its host alone.

use base64::Engine;
use chrono::{DateTime, Utc};
use lumio_core::{
    AuditEvent, AuditOutcome, Environment, EventFilter, ExtensionSlug, Role, SecretValue,
    MAX_WEBHOOKS_PER_EXTENSION, MAX_WEBHOOK_URL_LEN,
};
use lumio_crypto::SecretPlace;
use lumio_store::{AttemptResult, AuditRecord, DeliveryRecord, DueDelivery};

pub use lumio_store::{ChangeEvent, NextStep, WebhookRecord};

use crate::extensions::change_record;
use crate::{RequestContext, SecretsService, ServiceError};

/// Most deliveries one listing returns.
pub const MAX_DELIVERIES_PAGE: i64 = 500;

/// A receiver as management callers see it: never its signing secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSummary {
    pub id: String,
    pub url: String,
    pub events: String,
    pub environment: Option<Environment>,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
}

/// A receiver just added, with its signing secret: shown this once.
#[derive(Debug)]
pub struct AddedWebhook {
    pub webhook: WebhookSummary,
    pub signing_secret: SecretValue,
}

/// A receiver and its signing secret, to send it something.
#[derive(Debug)]
pub struct WebhookTarget {
    pub webhook: WebhookRecord,
    pub signing_secret: SecretValue,
}

impl From<&WebhookRecord> for WebhookSummary {
    fn from(hook: &WebhookRecord) -> Self {
        Self {
            id: hook.id.clone(),
            url: hook.url.clone(),
            events: hook.events.to_text(),
            environment: hook.environment,
            created_at: hook.created_at,
            created_by: hook.created_by.clone(),
        }
    }
}

/// Where a receiver's signing secret is sealed: its own place, so the ciphertext opens
/// nowhere else.
fn place(extension_id: i64, id: &str) -> SecretPlace<'_> {
    SecretPlace {
        extension_id,
        environment: "webhook",
        name: id,
        version: 1,
    }
}

/// The host of a URL, for audit records (the path or query may carry a credential).
pub fn url_host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    authority.rsplit('@').next().unwrap_or("")
}

fn random_token(bytes: usize) -> Result<Vec<u8>, ServiceError> {
    let mut out = vec![0u8; bytes];
    getrandom::getrandom(&mut out)
        .map_err(|e| ServiceError::Conflict(format!("no randomness for a webhook secret: {e}")))?;
    Ok(out)
}

impl SecretsService {
    /// Adds a receiver (owners, and a token scoped to one environment only for that one).
    /// `url` has been checked by the caller against the fetch address rules.
    pub async fn add_webhook(
        &self,
        ctx: &RequestContext,
        slug: &ExtensionSlug,
        url: &str,
        events: EventFilter,
        environment: Option<Environment>,
    ) -> Result<AddedWebhook, ServiceError> {
        let (extension, environment) = self.webhook_owner(ctx, slug, environment).await?;
        if url.len() > MAX_WEBHOOK_URL_LEN {
            return Err(ServiceError::InvalidValue(format!(
                "the webhook URL is longer than {MAX_WEBHOOK_URL_LEN} characters"
            )));
        }
        let store = &self.inner.store;
        if store.webhooks(Some(extension.id)).await?.len() >= MAX_WEBHOOKS_PER_EXTENSION {
            return Err(ServiceError::Limit(format!(
                "an extension has at most {MAX_WEBHOOKS_PER_EXTENSION} webhooks; remove one first"
            )));
        }
        let id = format!("wh_{}", hex::encode(random_token(8)?));
        let encoded = base64::engine::general_purpose::STANDARD.encode(random_token(32)?);
        let signing_secret = SecretValue::new(format!("whsec_{encoded}"))
            .map_err(|e| ServiceError::InvalidValue(e.to_string()))?;
        let keys = self.keys();
        let hook = WebhookRecord {
            secret_sealed: lumio_crypto::seal(
                keys.current(),
                &place(extension.id, &id),
                &signing_secret,
            ),
            kek_id: keys.current().id().to_string(),
            id,
            extension_id: extension.id,
            url: url.to_owned(),
            events,
            environment,
            created_at: self.now_micros(),
            created_by: ctx.principal.actor(),
        };
        let detail = format!(
            "{} to {} for {}",
            hook.id,
            url_host(url),
            hook.events.to_text()
        );
        let record = change_record(
            ctx,
            extension.id,
            environment,
            AuditEvent::WebhookAdd,
            None,
            Some(detail),
        );
        store.insert_webhook(&hook, &[record]).await?;
        Ok(AddedWebhook {
            webhook: WebhookSummary::from(&hook),
            signing_secret,
        })
    }

    /// Whether the caller may add a receiver for `environment` (both when `None`): the
    /// check [`Self::add_webhook`] makes, for the API to make before it tries the URL, so
    /// no one else can use the server to probe addresses.
    pub async fn check_webhook_add(
        &self,
        ctx: &RequestContext,
        slug: &ExtensionSlug,
        environment: Option<Environment>,
    ) -> Result<(), ServiceError> {
        self.webhook_owner(ctx, slug, environment).await.map(|_| ())
    }

    /// The extension, if the caller owns it (as a member), and the environment a new
    /// receiver hears: the one asked for, else the token's scope, else both.
    async fn webhook_owner(
        &self,
        ctx: &RequestContext,
        slug: &ExtensionSlug,
        environment: Option<Environment>,
    ) -> Result<(lumio_core::records::Extension, Option<Environment>), ServiceError> {
        let extension = self.visible_extension(ctx, slug).await?;
        let action = "manage webhooks";
        ctx.principal
            .require_member(&extension, Role::Owner, action)?;
        let environment = match (environment, ctx.principal.environment) {
            (Some(wanted), _) => {
                ctx.principal.require_environment(wanted, action)?;
                Some(wanted)
            }
            (None, scope) => scope,
        };
        Ok((extension, environment))
    }

    /// The extension's receivers (members only: a URL may carry a credential).
    pub async fn list_webhooks(
        &self,
        ctx: &RequestContext,
        slug: &ExtensionSlug,
    ) -> Result<Vec<WebhookSummary>, ServiceError> {
        let extension = self.visible_extension(ctx, slug).await?;
        ctx.principal
            .require_member(&extension, Role::Viewer, "list webhooks")?;
        let hooks = self.inner.store.webhooks(Some(extension.id)).await?;
        Ok(hooks.iter().map(WebhookSummary::from).collect())
    }

    /// Removes a receiver; what it was still owed is cancelled.
    pub async fn remove_webhook(
        &self,
        ctx: &RequestContext,
        slug: &ExtensionSlug,
        id: &str,
    ) -> Result<WebhookSummary, ServiceError> {
        let extension = self.visible_extension(ctx, slug).await?;
        ctx.principal
            .require_member(&extension, Role::Owner, "manage webhooks")?;
        let hook = self.webhook_of(extension.id, id).await?;
        if let Some(environment) = hook.environment {
            ctx.principal
                .require_environment(environment, "manage webhooks")?;
        }
        let record = change_record(
            ctx,
            extension.id,
            hook.environment,
            AuditEvent::WebhookRemove,
            None,
            Some(format!("{id} to {}", url_host(&hook.url))),
        );
        let removed = self
            .inner
            .store
            .remove_webhook(extension.id, id, self.now_micros(), &[record])
            .await?;
        if !removed {
            return Err(ServiceError::NotFound(format!("webhook {id:?}")));
        }
        Ok(WebhookSummary::from(&hook))
    }

    /// A receiver and its signing secret, for `lumio webhooks test` (developers and up).
    pub async fn webhook_target(
        &self,
        ctx: &RequestContext,
        slug: &ExtensionSlug,
        id: &str,
    ) -> Result<WebhookTarget, ServiceError> {
        let extension = self.visible_extension(ctx, slug).await?;
        ctx.principal
            .require_member(&extension, Role::Developer, "test webhooks")?;
        let webhook = self.webhook_of(extension.id, id).await?;
        let signing_secret = self.webhook_signing_secret(&webhook).await?;
        Ok(WebhookTarget {
            webhook,
            signing_secret,
        })
    }

    /// Notes a test send's outcome in the audit log (durable before the caller is told).
    pub async fn record_webhook_test(
        &self,
        ctx: &RequestContext,
        webhook: &WebhookRecord,
        outcome: Result<u16, String>,
    ) -> Result<(), ServiceError> {
        let mut record = change_record(
            ctx,
            webhook.extension_id,
            webhook.environment,
            AuditEvent::WebhookTest,
            None,
            None,
        );
        let (outcome, detail) = attempt_words(&webhook.id, 1, &outcome);
        record.outcome = Some(outcome.into());
        record.detail = Some(detail);
        self.inner.audit.record(record).await?;
        Ok(())
    }

    /// The extension's deliveries, newest first (members only).
    pub async fn webhook_deliveries(
        &self,
        ctx: &RequestContext,
        slug: &ExtensionSlug,
        failed_only: bool,
        limit: i64,
    ) -> Result<Vec<DeliveryRecord>, ServiceError> {
        let extension = self.visible_extension(ctx, slug).await?;
        ctx.principal
            .require_member(&extension, Role::Viewer, "list webhook deliveries")?;
        let limit = limit.clamp(1, MAX_DELIVERIES_PAGE);
        Ok(self
            .inner
            .store
            .deliveries(extension.id, failed_only, limit)
            .await?)
    }

    /// Queues a delivered or failed delivery again, with the same event id.
    pub async fn redeliver(
        &self,
        ctx: &RequestContext,
        slug: &ExtensionSlug,
        delivery_id: i64,
    ) -> Result<(), ServiceError> {
        let extension = self.visible_extension(ctx, slug).await?;
        ctx.principal
            .require_member(&extension, Role::Developer, "redeliver webhooks")?;
        let record = change_record(
            ctx,
            extension.id,
            None,
            AuditEvent::WebhookRedeliver,
            None,
            Some(format!("delivery {delivery_id}")),
        );
        let queued = self
            .inner
            .store
            .redeliver(extension.id, delivery_id, self.now_micros(), &[record])
            .await?;
        if !queued {
            return Err(ServiceError::NotFound(format!(
                "finished delivery {delivery_id} (pending ones are still being tried; \
                 deliveries of a removed webhook cannot be sent again)"
            )));
        }
        Ok(())
    }

    async fn webhook_of(&self, extension_id: i64, id: &str) -> Result<WebhookRecord, ServiceError> {
        self.inner
            .store
            .webhooks(Some(extension_id))
            .await?
            .into_iter()
            .find(|hook| hook.id == id)
            .ok_or_else(|| ServiceError::NotFound(format!("webhook {id:?}")))
    }

    /// Opens a receiver's signing secret (the deliverer's and `test`'s only).
    pub async fn webhook_signing_secret(
        &self,
        webhook: &WebhookRecord,
    ) -> Result<SecretValue, ServiceError> {
        self.open_sealed(
            &place(webhook.extension_id, &webhook.id),
            &webhook.secret_sealed,
        )
        .await
    }

    /// Takes or renews the named lease for `holder` for `length` from now.
    pub async fn take_lease(
        &self,
        name: &str,
        holder: &str,
        length: std::time::Duration,
    ) -> Result<bool, ServiceError> {
        let now = self.now_micros();
        let until = now + chrono::Duration::from_std(length).unwrap_or(chrono::Duration::MAX);
        Ok(self
            .inner
            .store
            .take_lease(name, holder, now, until)
            .await?)
    }

    pub async fn release_lease(&self, name: &str, holder: &str) -> Result<(), ServiceError> {
        Ok(self.inner.store.release_lease(name, holder).await?)
    }

    /// Retention: finished deliveries older than `days` (and what they leave behind).
    pub async fn prune_webhook_deliveries(&self, days: u32) -> Result<u64, ServiceError> {
        let cutoff = self.now_micros() - chrono::Duration::days(i64::from(days.max(1)));
        Ok(self.inner.store.prune_webhook_deliveries(cutoff).await?)
    }

    /// Turns committed change events into deliveries; how many events it took.
    pub async fn fan_out_events(&self) -> Result<u64, ServiceError> {
        Ok(self.inner.store.fan_out_events(self.now_micros()).await?)
    }

    /// Each receiver's oldest pending delivery (of `webhook` only, if given), when due.
    pub async fn due_deliveries(
        &self,
        limit: i64,
        webhook: Option<&str>,
    ) -> Result<Vec<DueDelivery>, ServiceError> {
        Ok(self
            .inner
            .store
            .due_deliveries(self.now_micros(), limit, webhook)
            .await?)
    }

    /// Notes an attempt's outcome with its `webhook.delivery` record, in one transaction.
    pub async fn record_attempt(
        &self,
        delivery: &DueDelivery,
        outcome: Result<u16, String>,
        next: NextStep,
    ) -> Result<(), ServiceError> {
        let at = self.now_micros();
        let (words, detail) = attempt_words(&delivery.webhook.id, delivery.attempts + 1, &outcome);
        let record = AuditRecord {
            // The system clock, as every record's (see `notices.rs`).
            at: Utc::now(),
            extension_id: delivery.webhook.extension_id,
            environment: delivery
                .event
                .environment
                .as_deref()
                .and_then(|e| Environment::parse(e).ok()),
            event: AuditEvent::WebhookDelivery,
            secret_name: delivery.event.secret_name.clone(),
            actor: Some(lumio_core::SYSTEM_ACTOR.to_owned()),
            action: None,
            request_id: None,
            outcome: Some(words.into()),
            detail: Some(format!("evt_{} {detail}", delivery.event.id)),
        };
        let result = AttemptResult {
            delivery_id: delivery.id,
            at,
            status: outcome.as_ref().ok().map(|s| i32::from(*s)),
            error: outcome.as_ref().err().cloned(),
            next,
        };
        Ok(self.inner.store.record_attempt(&result, &[record]).await?)
    }
}

/// Seals every receiver's signing secret under the current master key (a master-key
/// rotation's step, beside the other records the keyring sealed), so none is left under a
/// key that is about to be retired.
pub(crate) async fn reseal_signing_secrets(
    store: &dyn lumio_store::Store,
    keys: &lumio_crypto::Keyring,
) -> Result<(), ServiceError> {
    let current = keys.current();
    let current_id = current.id().to_string();
    for hook in store.webhooks(None).await? {
        if hook.kek_id == current_id {
            continue;
        }
        let place = place(hook.extension_id, &hook.id);
        let secret = keys.open(&place, &hook.secret_sealed)?;
        let sealed = lumio_crypto::seal(current, &place, &secret);
        // Lost only to a removal or another rotation: either way nothing is left behind.
        store
            .reseal_webhook(&hook.id, &hook.secret_sealed, &sealed, &current_id)
            .await?;
    }
    Ok(())
}

/// An attempt's outcome and detail: `ok` for a 2xx answer, `failed` otherwise.
fn attempt_words(
    webhook_id: &str,
    attempt: i32,
    outcome: &Result<u16, String>,
) -> (AuditOutcome, String) {
    match outcome {
        Ok(status) if (200..300).contains(status) => (
            AuditOutcome::Ok,
            format!("to {webhook_id}, attempt {attempt}: answered {status}"),
        ),
        Ok(status) => (
            AuditOutcome::Failed,
            format!("to {webhook_id}, attempt {attempt}: answered {status}"),
        ),
        Err(error) => (
            AuditOutcome::Failed,
            format!("to {webhook_id}, attempt {attempt}: {error}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::url_host;

    #[test]
    fn audit_records_name_the_host_only() {
        assert_eq!(
            url_host("https://hooks.example.com/T0/B1/sEcReT?x=1"),
            "hooks.example.com"
        );
        assert_eq!(
            url_host("http://user:pw@127.0.0.1:9000/in"),
            "127.0.0.1:9000"
        );
    }
}
