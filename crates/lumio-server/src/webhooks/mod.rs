//! Delivering change events to webhook receivers, and sending due-date notices.
//!
//! Any server may deliver, one at a time: the holder of the `webhooks` lease in the
//! database. It renews the lease every fifth of its length and starts an attempt only
//! while the lease has more left than an attempt can take, so when another server takes
//! over (the lease ran out: the holder died or lost the database) no attempt of the old
//! holder can still be under way. Each pass turns committed outbox events into
//! deliveries, then sends each receiver its oldest pending delivery if due: one at a
//! time per receiver, so a receiver gets its events in order. An attempt is recorded
//! (with its `webhook.delivery` audit record) after it ends; a holder killed in between
//! leaves it pending, and the next holder sends it again with the same `webhook-id`.
//! The holder also sends expiry and rotation notices (a scan per minute of the service's
//! clock), each once whichever server sends it.

mod backoff;
mod payload;
mod signature;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lumio_runtime::GuardedClient;
use lumio_secrets::{DueDelivery, NextStep, SecretsService, WebhookRecord};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub(crate) use payload::{body as event_body, event_id};
pub(crate) use signature::sign;

/// The lease's name in `lumio_leases`.
const LEASE: &str = "webhooks";
/// Between two passes while the lease is held (and between tries to take it).
const PASS_EVERY: Duration = Duration::from_millis(100);
/// Deliveries started per pass at most.
const PER_PASS: i64 = 64;
/// How long a receiver waits after an attempt whose outcome could not be recorded.
const UNRECORDED_PAUSE: Duration = Duration::from_secs(5);
/// Least number of attempts before a delivery is given up, whatever the time.
const MIN_ATTEMPTS: i32 = 8;

/// How deliveries are paced; tests shorten them.
#[derive(Debug, Clone, Copy)]
pub struct WebhookTiming {
    /// How long a taken lease lasts without renewal. An attempt may take a third of it.
    pub lease: Duration,
    /// The first retry's delay; each next one doubles (with jitter), up to an hour.
    pub retry_base: Duration,
    /// How long a delivery is retried after its first attempt before it is given up.
    pub give_up_after: Duration,
}

impl Default for WebhookTiming {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(30),
            retry_base: Duration::from_secs(5),
            give_up_after: Duration::from_secs(25 * 60 * 60),
        }
    }
}

impl WebhookTiming {
    fn attempt_timeout(&self) -> Duration {
        self.lease / 3
    }
}

/// The running deliverer; [`Self::stop`] lets the lease go for another server.
pub(crate) struct Deliverer {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Deliverer {
    pub(crate) fn spawn(
        service: SecretsService,
        allow_private: bool,
        timing: WebhookTiming,
    ) -> anyhow::Result<Self> {
        let client = GuardedClient::new(
            allow_private,
            timing.attempt_timeout(),
            concat!("lumio-webhooks/", env!("CARGO_PKG_VERSION")),
        )?;
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(run(service, client, timing, stopped));
        Ok(Self { stop, task })
    }

    pub(crate) async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// A name no other process uses: host, process and a random part.
fn holder_name() -> String {
    let mut bytes = [0u8; 6];
    let _ = getrandom::getrandom(&mut bytes);
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    format!(
        "{}:{}:{}",
        host.trim(),
        std::process::id(),
        hex::encode(bytes)
    )
}

async fn run(
    service: SecretsService,
    client: GuardedClient,
    timing: WebhookTiming,
    mut stopped: watch::Receiver<bool>,
) {
    let holder = holder_name();
    let in_flight: Arc<Mutex<HashSet<String>>> = Arc::default();
    let mut attempts = tokio::task::JoinSet::new();
    let mut held_until: Option<Instant> = None;
    let mut last_notices: Option<chrono::DateTime<chrono::Utc>> = None;
    let mut renew_at = Instant::now();
    let mut pass = tokio::time::interval(PASS_EVERY);
    pass.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = pass.tick() => {}
            _ = stopped.changed() => break,
        }
        while attempts.try_join_next().is_some() {}
        if Instant::now() >= renew_at {
            let asked = Instant::now();
            held_until = match service.take_lease(LEASE, &holder, timing.lease).await {
                Ok(true) => Some(asked + timing.lease),
                Ok(false) => None,
                // Unknown: what was held still runs out on time.
                Err(err) => {
                    tracing::warn!(error = %err, "cannot renew the webhook delivery lease");
                    held_until
                }
            };
            renew_at = asked + timing.lease / 5;
        }
        if !LeaseView(held_until).room_for_attempt(&timing) {
            continue;
        }
        // Reminders by the service's clock (a test moves it): a scan a minute of it.
        let now = service.now();
        if last_notices.is_none_or(|last| now - last >= chrono::Duration::seconds(60)) {
            match service.send_due_notices().await {
                Ok(_) => last_notices = Some(now),
                Err(err) => tracing::warn!(error = %err, "cannot send due-date notices; retrying"),
            }
        }
        if let Err(err) = service.fan_out_events().await {
            tracing::warn!(error = %err, "cannot fan out webhook events; retrying");
            continue;
        }
        let due = match service.due_deliveries(PER_PASS, None).await {
            Ok(due) => due,
            Err(err) => {
                tracing::warn!(error = %err, "cannot read due webhook deliveries; retrying");
                continue;
            }
        };
        for delivery in due {
            let hook = delivery.webhook.id.clone();
            if !in_flight.lock().expect("not poisoned").insert(hook.clone()) {
                continue;
            }
            let (service, client, in_flight) = (service.clone(), client.clone(), in_flight.clone());
            let lease = LeaseView(held_until);
            let stopping = stopped.clone();
            attempts.spawn(async move {
                drain(&service, &client, &timing, delivery, lease, &stopping).await;
                in_flight.lock().expect("not poisoned").remove(&hook);
            });
        }
    }
    // Attempts under way finish (each within its timeout) before the lease is let go.
    while attempts.join_next().await.is_some() {}
    if held_until.is_some() {
        let _ = service.release_lease(LEASE, &holder).await;
    }
}

/// When the lease runs out, as the pass that started a receiver's run saw it.
#[derive(Clone, Copy)]
struct LeaseView(Option<Instant>);

impl LeaseView {
    /// Whether an attempt started now ends (by its timeout) well before the lease does.
    fn room_for_attempt(self, timing: &WebhookTiming) -> bool {
        let room = timing.attempt_timeout() + timing.lease / 10;
        self.0.is_some_and(|until| Instant::now() + room < until)
    }
}

/// Delivers a receiver's due deliveries one after another, in order, until one fails,
/// none is due, the server stops, or the lease seen at the start has no room left for
/// another attempt (the next pass, with the lease renewed, goes on).
async fn drain(
    service: &SecretsService,
    client: &GuardedClient,
    timing: &WebhookTiming,
    first: DueDelivery,
    lease: LeaseView,
    stopping: &watch::Receiver<bool>,
) {
    let mut delivery = first;
    loop {
        if !deliver(service, client, timing, &delivery).await
            || !lease.room_for_attempt(timing)
            || *stopping.borrow()
        {
            return;
        }
        match service
            .due_deliveries(1, Some(&delivery.webhook.id))
            .await
            .map(|mut due| due.pop())
        {
            Ok(Some(next)) => delivery = next,
            Ok(None) => return,
            Err(err) => {
                tracing::warn!(error = %err, "cannot read due webhook deliveries; retrying");
                return;
            }
        }
    }
}

/// One attempt of one delivery, and its record; whether it was delivered and recorded.
async fn deliver(
    service: &SecretsService,
    client: &GuardedClient,
    timing: &WebhookTiming,
    delivery: &DueDelivery,
) -> bool {
    let outcome = send(service, client, &delivery.webhook, &delivery.event).await;
    let now = service.now();
    let attempt = delivery.attempts + 1;
    let next = match &outcome {
        Ok(status) if (200..300).contains(status) => NextStep::Delivered,
        _ => {
            let first = delivery.first_attempt_at.unwrap_or(now);
            let give_up = chrono::Duration::from_std(timing.give_up_after).unwrap_or_default();
            if attempt >= MIN_ATTEMPTS && now - first >= give_up {
                NextStep::GiveUp
            } else {
                let pause = backoff::delay(timing.retry_base, attempt);
                NextStep::RetryAt(now + chrono::Duration::from_std(pause).unwrap_or_default())
            }
        }
    };
    match service.record_attempt(delivery, outcome, next).await {
        Ok(()) => next == NextStep::Delivered,
        Err(err) => {
            // Left pending: the delivery is sent again (same webhook-id), never lost; not
            // at once, though, or a store refusing the record would have the receiver
            // sent the same event every pass.
            tracing::warn!(error = %err, delivery = delivery.id, "cannot record a webhook attempt; pausing this receiver");
            tokio::time::sleep(UNRECORDED_PAUSE).await;
            false
        }
    }
}

/// Signs and POSTs one event; the answer's status or why there was none.
pub(crate) async fn send(
    service: &SecretsService,
    client: &GuardedClient,
    webhook: &WebhookRecord,
    event: &lumio_secrets::ChangeEvent,
) -> Result<u16, String> {
    let url = client.check(&webhook.url)?;
    let secret = service.webhook_signing_secret(webhook).await.map_err(|e| {
        tracing::error!(error = %e, webhook = %webhook.id, "cannot open a webhook signing secret");
        "cannot open the signing secret (the server log has the details)".to_owned()
    })?;
    let id = event_id(event);
    let body = event_body(event);
    let timestamp = service.now().timestamp();
    let signature = sign(&secret, &id, timestamp, &body);
    let headers = [
        ("webhook-id", id),
        ("webhook-timestamp", timestamp.to_string()),
        ("webhook-signature", signature),
    ];
    client.post(&url, &headers, body).await
}
