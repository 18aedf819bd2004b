//! Keeps the audit log's storage ready and, with `--audit-retention-days`, its size
//! bounded: at start and then hourly, make room for the coming week's records
//! (PostgreSQL's daily partitions) and remove the records older than the retention. The
//! same rounds bound the invocation logs (`--log-retention-days`, and at most
//! [`KEPT_INVOCATIONS`] per extension and environment) and the finished webhook
//! deliveries (30 days).
//!
//! Failures are logged and retried on the next round: retention is housekeeping, and a
//! failed pass loses nothing. A week of partitions ahead means a server whose upkeep
//! fails for days still records every change.

use std::time::Duration;

use chrono::Utc;
use lumio_actions::KEPT_INVOCATIONS;
use lumio_secrets::SecretsService;
use tokio::task::JoinHandle;

/// Between two rounds.
const EVERY: Duration = Duration::from_secs(60 * 60);
/// How far ahead records are given room.
const AHEAD: chrono::Days = chrono::Days::new(7);

/// How long audit records are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditRetention {
    days: u32,
}

impl AuditRetention {
    /// At least one day: the partition being written today is never dropped.
    pub fn days(days: u32) -> Option<Self> {
        (days >= 1).then_some(Self { days })
    }

    fn cutoff(self, now: chrono::DateTime<Utc>) -> chrono::DateTime<Utc> {
        now - chrono::Duration::days(i64::from(self.days))
    }
}

/// Runs the upkeep until the runtime stops; the first round runs at once. Ages are read
/// from the service's clock.
pub(crate) fn spawn(
    service: SecretsService,
    retention: Option<AuditRetention>,
    log_days: u32,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            prune_logs(&service, log_days).await;
            prune_deliveries(&service).await;
            round(&service, retention).await;
        }
    })
}

/// Invocation logs: by age, then by count per extension and environment.
async fn prune_logs(service: &SecretsService, days: u32) {
    let cutoff = service.now() - chrono::Duration::days(i64::from(days.max(1)));
    match service
        .prune_invocation_logs(cutoff, KEPT_INVOCATIONS)
        .await
    {
        Ok(pruned) => {
            metrics::counter!("lumio_invocation_logs_pruned_total")
                .increment(pruned.expired + pruned.over_cap);
            tracing::info!(
                days,
                expired = pruned.expired,
                over_cap = pruned.over_cap,
                "invocation log retention pass"
            );
        }
        Err(err) => {
            tracing::error!(error = %err, "invocation log retention pass failed; retrying in an hour")
        }
    }
}

/// Finished webhook deliveries are kept this long for `lumio webhooks deliveries` and
/// `redeliver`; each outcome stays in the audit log as long as the audit log keeps it.
const DELIVERY_RETENTION_DAYS: u32 = 30;

async fn prune_deliveries(service: &SecretsService) {
    match service
        .prune_webhook_deliveries(DELIVERY_RETENTION_DAYS)
        .await
    {
        Ok(removed) => tracing::info!(removed, "webhook delivery retention pass"),
        Err(err) => {
            tracing::error!(error = %err, "webhook delivery retention pass failed; retrying in an hour")
        }
    }
}

async fn round(service: &SecretsService, retention: Option<AuditRetention>) {
    let until = service.now() + AHEAD;
    if let Err(err) = service.prepare_audit_log(until).await {
        tracing::error!(error = %err, "could not make room for the coming audit records; retrying in an hour");
    }
    let Some(retention) = retention else {
        return;
    };
    match service.prune_audit(retention.cutoff(service.now())).await {
        Ok(pruned) => {
            metrics::counter!("lumio_audit_pruned_records_total").increment(pruned.records_deleted);
            metrics::counter!("lumio_audit_pruned_partitions_total")
                .increment(pruned.partitions_dropped);
            tracing::info!(
                days = retention.days,
                partitions_dropped = pruned.partitions_dropped,
                records_deleted = pruned.records_deleted,
                "audit retention pass"
            );
        }
        Err(err) => {
            tracing::error!(error = %err, "audit retention pass failed; retrying in an hour")
        }
    }
}
