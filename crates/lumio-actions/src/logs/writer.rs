//! The invocation log's batch writer: invocations are queued on a bounded channel and a
//! task writes what is queued in one transaction, at most every [`FLUSH_EVERY`] unless a
//! batch is full. An invocation never waits for it: when the queue is full the log is
//! dropped and counted (`lumio_invocation_logs_dropped_total`, and a warning at most every
//! [`WARN_EVERY`]); a batch the store refuses is dropped the same way. What is queued when
//! the process dies is lost: these are developers' logs, not the audit log.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use lumio_secrets::SecretsService;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::Finished;

/// Invocations waiting to be written; beyond it they are dropped.
pub(crate) const QUEUE: usize = 8192;
/// Rows per transaction at most.
pub(crate) const MAX_BATCH: usize = 500;
/// The shortest time between two writes that are not full: groups a burst into one.
pub(crate) const FLUSH_EVERY: Duration = Duration::from_millis(100);
/// At most one warning about dropped logs this often.
const WARN_EVERY: i64 = 10;

pub(crate) struct LogWriter {
    queue: mpsc::Sender<Finished>,
    /// Invocations queued so far.
    queued: std::sync::atomic::AtomicU64,
    /// Invocations the task is done with (written or dropped), told after each batch:
    /// readers waiting for new invocations watch it.
    committed: watch::Receiver<u64>,
    /// When the last drop warning was logged (Unix seconds).
    warned_at: AtomicI64,
    dropped: Arc<std::sync::atomic::AtomicU64>,
    sampler: super::sample::Sampler,
}

impl LogWriter {
    /// Starts the writer task. Call inside a tokio runtime; the task ends when the
    /// writer is dropped and its queue is written.
    pub(crate) fn spawn(secrets: SecretsService) -> Self {
        let (queue, received) = mpsc::channel(QUEUE);
        let (tell, committed) = watch::channel(0);
        let dropped = Arc::new(std::sync::atomic::AtomicU64::new(0));
        tokio::spawn(run(secrets, received, tell, dropped.clone()));
        Self {
            queue,
            queued: std::sync::atomic::AtomicU64::new(0),
            committed,
            warned_at: AtomicI64::new(0),
            dropped,
            sampler: Default::default(),
        }
    }

    /// Queues one invocation's log without waiting; drops it when the queue is full, and
    /// skips it past its extension and environment's share (`sample.rs`).
    pub(crate) fn enqueue(&self, log: Finished) {
        if !self.sampler.keep(log.extension_id, log.environment) {
            return;
        }
        match self.queue.try_send(log) {
            Ok(()) => {
                self.queued.fetch_add(1, Ordering::Release);
            }
            Err(_) => self.count_dropped(1),
        }
    }

    /// Waits (at most `longest`) until everything queued before this call is written, so
    /// a read on this server right after an invocation finds it.
    pub(crate) async fn settled(&self, longest: Duration) {
        let queued = self.queued.load(Ordering::Acquire);
        let mut committed = self.committed.clone();
        let _ = tokio::time::timeout(longest, committed.wait_for(|done| *done >= queued)).await;
    }

    fn count_dropped(&self, count: u64) {
        count_dropped(&self.dropped, count);
        let now = chrono::Utc::now().timestamp();
        let last = self.warned_at.load(Ordering::Relaxed);
        if now - last >= WARN_EVERY
            && self
                .warned_at
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(
                dropped_total = self.dropped.load(Ordering::Relaxed),
                "invocation logs are arriving faster than they can be written; some were dropped (lumio_invocation_logs_dropped_total)"
            );
        }
    }

    /// Changes each time a batch commits.
    pub(crate) fn committed(&self) -> watch::Receiver<u64> {
        self.committed.clone()
    }
}

fn count_dropped(dropped: &std::sync::atomic::AtomicU64, count: u64) {
    dropped.fetch_add(count, Ordering::Relaxed);
    metrics::counter!("lumio_invocation_logs_dropped_total").increment(count);
}

async fn run(
    secrets: SecretsService,
    mut received: mpsc::Receiver<Finished>,
    tell: watch::Sender<u64>,
    dropped: Arc<std::sync::atomic::AtomicU64>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut last_write = Instant::now() - FLUSH_EVERY;
    let mut warned: Option<Instant> = None;
    loop {
        if received.recv_many(&mut batch, MAX_BATCH).await == 0 {
            return; // the service is gone and the queue is written
        }
        // Not full: gather until the next write is due, so a burst is one transaction.
        while batch.len() < MAX_BATCH {
            let due = last_write + FLUSH_EVERY;
            if Instant::now() >= due {
                break;
            }
            let room = MAX_BATCH - batch.len();
            match tokio::time::timeout_at(due, received.recv_many(&mut batch, room)).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        let rows: Vec<_> = batch.drain(..).map(Finished::row).collect();
        last_write = Instant::now();
        let written = secrets.append_invocation_logs(&rows).await;
        tell.send_modify(|done| *done += rows.len() as u64);
        match written {
            Ok(()) => {
                metrics::counter!("lumio_invocation_logs_written_total")
                    .increment(rows.len() as u64);
            }
            Err(err) => {
                count_dropped(&dropped, rows.len() as u64);
                let quiet = Duration::from_secs(WARN_EVERY as u64);
                if warned.is_none_or(|at| at.elapsed() >= quiet) {
                    warned = Some(Instant::now());
                    tracing::warn!(error = %err, invocations = rows.len(), "could not write invocation logs; they were dropped (lumio_invocation_logs_dropped_total)");
                }
            }
        }
    }
}
