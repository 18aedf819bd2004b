//! The writer task: takes what is queued, commits it as one batch, retries a failed batch
//! until it commits, and publishes its progress for [`crate::AuditWriter::durable`].

use std::sync::Arc;
use std::time::Duration;

use lumio_store::{AuditRecord, Store};
use tokio::sync::{mpsc, watch};
use tokio::time::{sleep, Instant};

use crate::AuditConfig;

/// Defaults for [`AuditConfig`], kept beside the code that uses them.
pub(crate) const RETRY_MIN: Duration = Duration::from_millis(10);
pub(crate) const RETRY_MAX: Duration = Duration::from_secs(1);
pub(crate) const STALL_TIMEOUT: Duration = Duration::from_secs(1);
pub(crate) const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// How often records written unsealed (the batches on PostgreSQL, management changes')
/// are sealed into their chains, by a task beside the writer.
pub(crate) const SEAL_EVERY: Duration = Duration::from_millis(250);

/// A queued record with the ticket it was given; tickets arrive in increasing order.
pub(crate) struct Queued(pub u64, pub AuditRecord);

/// What the writer has achieved, as seen by waiters.
#[derive(Debug, Clone, Default)]
pub(crate) struct Progress {
    /// Every ticket up to and including this one is committed.
    pub committed: u64,
    /// Set while the batch after `committed` cannot be committed: the reason.
    pub failure: Option<Arc<str>>,
    /// The task has ended; nothing after `committed` will ever commit.
    pub stopped: bool,
}

pub(crate) struct Writer {
    pub store: Arc<dyn Store>,
    pub config: AuditConfig,
    pub queue: mpsc::Receiver<Queued>,
    pub progress: watch::Sender<Progress>,
    /// Becomes `true` when shutdown is requested.
    pub stop: watch::Receiver<bool>,
    /// When this task first saw the shutdown request (or every handle dropped).
    pub stopping_since: Option<Instant>,
}

impl Writer {
    pub async fn run(mut self) {
        let max_batch = self.config.max_batch.max(1);
        let mut batch = Vec::with_capacity(max_batch.min(1024));
        let mut last_ticket = 0;
        // Sealing runs beside the writer, never between a batch and the records after it:
        // a record's waiter needs it durable, not yet in its chain.
        let sealer = tokio::spawn(seal_loop(self.store.clone(), self.config.seal_every));
        loop {
            let first = tokio::select! {
                biased;
                queued = self.queue.recv() => queued,
                // An error means every handle is gone: stop as well.
                _ = self.stop.wait_for(|stop| *stop), if self.stopping_since.is_none() => {
                    // Refuse new records; `recv` still yields those already queued.
                    self.queue.close();
                    self.stopping_since = Some(Instant::now());
                    continue;
                }
            };
            // `None` once every handle is gone or, after `close`, the queue is drained.
            let Some(first) = first else { break };
            let mut next = Some(first);
            // Group commit: everything that queued while the last batch was written.
            while let Some(Queued(ticket, record)) = next.take() {
                debug_assert!(ticket > last_ticket, "tickets out of order");
                last_ticket = ticket;
                batch.push(record);
                if batch.len() < max_batch {
                    next = self.queue.try_recv().ok();
                }
            }
            self.commit(&batch, last_ticket).await;
            batch.clear();
        }
        sealer.abort();
        // What the last batches left unsealed is sealed now, or by the next start.
        seal_pending(self.store.as_ref()).await;
        self.progress.send_modify(|p| p.stopped = true);
    }

    /// Commits `batch`, retrying with backoff. Gives up only when stopping and the store
    /// has kept failing for the shutdown grace period.
    async fn commit(&mut self, batch: &[AuditRecord], last_ticket: u64) {
        let mut backoff = self.config.retry_min;
        loop {
            let started = Instant::now();
            match self.attempt(batch).await {
                Ok(()) => {
                    metrics::histogram!("lumio_audit_batch_size").record(batch.len() as f64);
                    metrics::histogram!("lumio_audit_commit_duration_seconds")
                        .record(started.elapsed().as_secs_f64());
                    if self.progress.borrow().failure.is_some() {
                        tracing::info!(records = batch.len(), "audit log writable again");
                    }
                    self.progress.send_modify(|p| {
                        p.committed = last_ticket;
                        p.failure = None;
                    });
                    return;
                }
                Err(reason) => {
                    metrics::counter!("lumio_audit_batch_failures_total").increment(1);
                    tracing::warn!(records = batch.len(), %reason, ?backoff, "audit batch not committed; retrying");
                    self.fail(reason);
                }
            }
            if self.stopping_for() >= Some(self.config.shutdown_grace) {
                tracing::error!(
                    records = batch.len(),
                    "audit records dropped at shutdown: the audit store could not be written"
                );
                return;
            }
            sleep(backoff).await;
            backoff = (backoff * 2).min(self.config.retry_max.max(self.config.retry_min));
        }
    }

    /// One `append_audit` call. If it has not answered within the stall timeout, waiters
    /// are failed at once while the call is left to finish: cancelling it could leave a
    /// committed batch that the retry would then write twice.
    async fn attempt(&self, batch: &[AuditRecord]) -> Result<(), Arc<str>> {
        let write = self.store.append_audit(batch);
        tokio::pin!(write);
        tokio::select! {
            result = &mut write => return result.map_err(|e| e.to_string().into()),
            () = sleep(self.config.stall_timeout) => {}
        }
        let stall = self.config.stall_timeout;
        tracing::warn!(
            records = batch.len(),
            ?stall,
            "audit store is not answering"
        );
        self.fail(format!("the audit store has not answered for {stall:?}").into());
        write.await.map_err(|e| e.to_string().into())
    }

    fn fail(&self, reason: Arc<str>) {
        self.progress.send_modify(|p| p.failure = Some(reason));
    }

    /// How long shutdown has been pending, noticing a request made during a retry.
    fn stopping_for(&mut self) -> Option<Duration> {
        let requested = *self.stop.borrow() || self.queue.is_closed();
        if requested && self.stopping_since.is_none() {
            self.queue.close();
            self.stopping_since = Some(Instant::now());
        }
        self.stopping_since.map(|since| since.elapsed())
    }
}

/// Seals what was written unsealed (the writer's batches on PostgreSQL, management
/// changes' records everywhere) every `every`, until aborted.
async fn seal_loop(store: Arc<dyn Store>, every: Duration) {
    loop {
        sleep(every).await;
        seal_pending(store.as_ref()).await;
    }
}

/// Finding nothing to seal is one index probe; a failure only waits for the next tick,
/// as no waiter depends on it.
async fn seal_pending(store: &dyn Store) {
    match store.seal_audit(None).await {
        Ok(0) => {}
        Ok(sealed) => tracing::debug!(sealed, "sealed audit records into their chains"),
        Err(err) => tracing::warn!(%err, "audit records not sealed yet; retrying"),
    }
}
