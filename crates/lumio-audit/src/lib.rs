//! The audit writer: every audit record in Lumio goes through one [`AuditWriter`], which
//! writes them in batches (group commit): one transaction per batch, not per record.
//!
//! Architecture Invariant: a record is acknowledged only after the batch holding it has
//! committed. A caller that must not let a value leave before its read is recorded
//! (SPEC §6) awaits [`AuditWriter::durable`] for its ticket.
//!
//! Architecture Invariant: no record is dropped while the process runs. A batch that fails
//! to commit is retried with backoff until it does; meanwhile `durable` fails fast for it
//! and everything after it, so callers fail closed. Only a shutdown whose grace period
//! runs out gives records up, and those were never acknowledged.

mod writer;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use lumio_store::{AuditRecord, Store};
use tokio::sync::{mpsc, watch};

use writer::{Progress, Queued, Writer};

/// Tuning for the writer.
#[derive(Debug, Clone)]
pub struct AuditConfig {
    /// Most records in one transaction.
    pub max_batch: usize,
    /// Most records waiting; beyond it `enqueue` waits (back-pressure), never drops.
    pub queue_capacity: usize,
    /// First pause before retrying a failed batch; doubles up to `retry_max`.
    pub retry_min: Duration,
    /// Longest pause between retries.
    pub retry_max: Duration,
    /// How long one write may go unanswered before waiters are told the log is unavailable.
    pub stall_timeout: Duration,
    /// How long shutdown keeps retrying a failing batch before giving it up.
    pub shutdown_grace: Duration,
    /// How often records written unsealed (management changes') are sealed into their
    /// extensions' hash chains.
    pub seal_every: Duration,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            max_batch: 4096,
            queue_capacity: 65536,
            retry_min: writer::RETRY_MIN,
            retry_max: writer::RETRY_MAX,
            stall_timeout: writer::STALL_TIMEOUT,
            shutdown_grace: writer::SHUTDOWN_GRACE,
            seal_every: writer::SEAL_EVERY,
        }
    }
}

pub use lumio_core::{AuditUnavailable, Ticket};

/// Handle to the writer task. Cheap to clone. The task flushes and ends when
/// [`AuditWriter::shutdown`] is called or the last handle is dropped.
#[derive(Clone)]
pub struct AuditWriter {
    shared: Arc<Shared>,
}

struct Shared {
    queue: mpsc::Sender<Queued>,
    /// The last ticket handed out. Held while sending, so queue order is ticket order
    /// and "committed ≥ ticket" means every record up to it is in.
    last_ticket: Mutex<u64>,
    progress: watch::Receiver<Progress>,
    stop: watch::Sender<bool>,
}

impl AuditWriter {
    /// Starts the writer task on the current tokio runtime.
    ///
    /// # Panics
    /// Outside a tokio runtime.
    pub fn spawn(store: Arc<dyn Store>, config: AuditConfig) -> Self {
        let (queue, queue_rx) = mpsc::channel(config.queue_capacity.max(1));
        let (progress_tx, progress) = watch::channel(Progress::default());
        let (stop, stop_rx) = watch::channel(false);
        let writer = Writer {
            store,
            config,
            queue: queue_rx,
            progress: progress_tx,
            stop: stop_rx,
            stopping_since: None,
        };
        tokio::spawn(writer.run());
        let shared = Shared {
            queue,
            last_ticket: Mutex::new(0),
            progress,
            stop,
        };
        Self {
            shared: Arc::new(shared),
        }
    }

    /// Queues a record and returns at once (waits only if the queue is full). If the
    /// writer has stopped, the ticket is one that [`durable`](Self::durable) refuses.
    pub async fn enqueue(&self, record: AuditRecord) -> Ticket {
        let permit = self.shared.queue.reserve().await;
        let mut last = self.lock_tickets();
        *last += 1;
        if let Ok(permit) = permit {
            permit.send(Queued(*last, record));
        }
        Ticket(*last)
    }

    /// Queues without awaiting; for synchronous callers (the JS runtime). Fails only if
    /// the queue is full or the writer stopped.
    pub fn try_enqueue(&self, record: AuditRecord) -> Result<Ticket, AuditUnavailable> {
        let mut last = self.lock_tickets();
        match self.shared.queue.try_send(Queued(*last + 1, record)) {
            Ok(()) => {
                *last += 1;
                Ok(Ticket(*last))
            }
            Err(mpsc::error::TrySendError::Full(_)) => {
                Err(AuditUnavailable("the audit queue is full".into()))
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Err(stopped()),
        }
    }

    /// Waits until every record up to and including `ticket` has committed. Errors if the
    /// batch holding it failed to commit (the writer keeps retrying it; later calls may succeed).
    pub async fn durable(&self, ticket: Ticket) -> Result<(), AuditUnavailable> {
        let mut progress = self.shared.progress.clone();
        loop {
            {
                let now = progress.borrow_and_update();
                if now.committed >= ticket.0 {
                    return Ok(());
                }
                if let Some(reason) = &now.failure {
                    return Err(AuditUnavailable(reason.to_string()));
                }
                if now.stopped {
                    return Err(stopped());
                }
            }
            if progress.changed().await.is_err() {
                // The task is gone without saying so (it panicked).
                let committed = progress.borrow().committed;
                return if committed >= ticket.0 {
                    Ok(())
                } else {
                    Err(stopped())
                };
            }
        }
    }

    /// Enqueue and wait for durability, failing at once if the queue is full: a request
    /// path never waits for room. (Management changes do not come here: they commit with
    /// their record in one transaction.)
    pub async fn record(&self, record: AuditRecord) -> Result<(), AuditUnavailable> {
        let ticket = self.try_enqueue(record)?;
        self.durable(ticket).await
    }

    /// Flushes what is queued and stops the task (graceful shutdown). Records enqueued
    /// afterwards are refused. Returns once the task has ended.
    pub async fn shutdown(&self) {
        self.shared.stop.send_replace(true);
        let mut progress = self.shared.progress.clone();
        // An error means the task is already gone.
        let _ = progress.wait_for(|p| p.stopped).await;
    }

    /// Records queued and not yet taken into a batch (for metrics).
    pub fn queued(&self) -> usize {
        self.shared.queue.max_capacity() - self.shared.queue.capacity()
    }

    /// `Ok` while the writer commits what it is given; else why not (the store refuses
    /// or does not answer, or the writer stopped). For readiness checks.
    pub fn health(&self) -> Result<(), AuditUnavailable> {
        let progress = self.shared.progress.borrow();
        match (&progress.failure, progress.stopped) {
            (_, true) => Err(stopped()),
            (Some(reason), false) => Err(AuditUnavailable(reason.to_string())),
            (None, false) => Ok(()),
        }
    }

    fn lock_tickets(&self) -> std::sync::MutexGuard<'_, u64> {
        // Nothing can panic while it is held, so a poisoned lock still holds a good count.
        self.shared
            .last_ticket
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }
}

fn stopped() -> AuditUnavailable {
    AuditUnavailable("the audit writer has stopped".into())
}
