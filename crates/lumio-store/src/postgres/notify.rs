//! Cross-process change feed over PostgreSQL LISTEN/NOTIFY.
//!
//! Notifications are sent right after commit by a background task, on its own connection
//! with `synchronous_commit = off`, not inside the writing transaction: PostgreSQL holds a
//! database-wide lock from a notifying transaction's pre-commit until its commit record is
//! flushed, which serializes every notifying commit behind one WAL flush and capped secret
//! writes below 1,000/s here (measured with pgbench). What a payload says is [`Payload`].

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgConnection};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::payload::{Origin, Payload};
use crate::feed::Feed;
use crate::{Change, StoreError};

const CHANNEL: &str = "lumio_changes";
/// Most notifications sent in one statement; bounds the statement size during imports.
const BATCH: usize = 1024;
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Writers waiting to see their own notification come back through PostgreSQL, by
/// payload, oldest first. The echo arrives on this process's listener at the moment every
/// other process's listener is sent the same notification.
#[derive(Clone, Default)]
pub(super) struct Echoes(Arc<Mutex<HashMap<String, VecDeque<oneshot::Sender<()>>>>>);

/// Payloads with waiters above which a new waiter first sweeps out every gone one.
const ECHO_SWEEP_AT: usize = 1024;

impl Echoes {
    fn expect(&self, payload: &str) -> oneshot::Receiver<()> {
        let (heard, wait) = oneshot::channel();
        let mut map = self.lock();
        if map.len() >= ECHO_SWEEP_AT {
            map.retain(|_, waiting| {
                waiting.retain(|w| !w.is_closed());
                !waiting.is_empty()
            });
        }
        let waiting = map.entry(payload.to_owned()).or_default();
        // A writer that stopped waiting (its echo was lost, it timed out) dropped its
        // receiver: it must not take a later writer's echo.
        while waiting.front().is_some_and(|w| w.is_closed()) {
            waiting.pop_front();
        }
        waiting.push_back(heard);
        wait
    }

    /// The echo of `payload` came back: releases the oldest writer still waiting for it.
    fn heard(&self, payload: &str) {
        let mut map = self.lock();
        if let Some(waiting) = map.get_mut(payload) {
            while let Some(heard) = waiting.pop_front() {
                if heard.send(()).is_ok() {
                    break;
                }
            }
            if waiting.is_empty() {
                map.remove(payload);
            }
        }
    }

    /// After a lost connection the echoes of what was sent meanwhile will not come:
    /// release every writer waiting. Called once the listener is back, so that writers
    /// that began waiting while it was down are released too.
    fn release_all(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, VecDeque<oneshot::Sender<()>>>> {
        // Nothing panics while it is held; a poisoned lock still holds good entries.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Whether the listener is connected and LISTENing. While it is not, no barrier can come
/// back, so callers do not wait for one (they would wait out the full timeout each time).
#[derive(Clone, Default)]
pub(super) struct Listening(Arc<std::sync::atomic::AtomicBool>);

impl Listening {
    pub(super) fn get(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    fn set(&self, up: bool) {
        self.0.store(up, Ordering::Release);
    }
}

/// Queues notifications for the background sender.
pub(super) struct Notifier {
    origin: Origin,
    queue: mpsc::UnboundedSender<String>,
    echoes: Echoes,
    barriers: AtomicU64,
    open_barrier: OpenBarrier,
}

/// The barrier queued but not yet taken by the sender. Callers share it: it is sent
/// after each of them asked, so it still orders after every commit each of them saw, and
/// a burst of invocations costs one notification instead of one each.
#[derive(Clone, Default)]
struct OpenBarrier(Arc<Mutex<Option<u64>>>);

impl OpenBarrier {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<u64>> {
        // Nothing panics while it is held; a poisoned lock still holds a good value.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Notifier {
    /// Starts the sender task; it ends once the `Notifier` is dropped and the queue drained.
    pub(super) fn start(options: &PgConnectOptions, origin: Origin, echoes: Echoes) -> Self {
        let (queue, pending) = mpsc::unbounded_channel();
        let options = options
            .clone()
            .application_name("lumio-notifier")
            // Losing a notification in a crash is harmless (listeners' connections drop
            // too); waiting for a flush per notification is not.
            .options([("synchronous_commit", "off")]);
        let open_barrier = OpenBarrier::default();
        tokio::spawn(send_loop(options, pending, open_barrier.clone()));
        Self {
            origin,
            queue,
            echoes,
            barriers: AtomicU64::new(0),
            open_barrier,
        }
    }

    /// Queues a change; the receiver completes once this process's own listener has
    /// heard it back, i.e. once PostgreSQL delivered it to every listener.
    pub(super) fn send(&self, change: Change) -> oneshot::Receiver<()> {
        self.echoed(self.payload(change))
    }

    fn payload(&self, change: Change) -> String {
        let origin = self.origin;
        Payload { origin, change }.to_string()
    }

    /// Queues `payload`, with a receiver that completes when it is heard back.
    fn echoed(&self, payload: String) -> oneshot::Receiver<()> {
        let echoed = self.echoes.expect(&payload);
        self.push(payload);
        echoed
    }

    /// A barrier sent after this call: when this process's listener hears it back, every
    /// notification committed before the call (PostgreSQL delivers in commit order) was
    /// forwarded already. Joins the queued barrier if the sender has not taken it yet.
    pub(super) fn barrier(&self) -> u64 {
        let mut open = self.open_barrier.lock();
        if let Some(seq) = *open {
            return seq;
        }
        let seq = self.barriers.fetch_add(1, Ordering::Relaxed) + 1;
        self.push(self.payload(Change::Synced(seq)));
        *open = Some(seq);
        seq
    }

    pub(super) fn everything(&self) {
        self.push(self.payload(Change::Everything));
    }

    fn push(&self, payload: String) {
        // Fails only if the task panicked; local subscribers were told already.
        let _ = self.queue.send(payload);
    }
}

async fn send_loop(
    options: PgConnectOptions,
    mut pending: mpsc::UnboundedReceiver<String>,
    open_barrier: OpenBarrier,
) {
    let mut conn: Option<PgConnection> = None;
    let mut batch = Vec::new();
    while pending.recv_many(&mut batch, BATCH).await > 0 {
        // Closed before sending: a barrier taken now must not be joined by later callers.
        // (Closing one still queued is harmless: the next caller queues a fresh one.)
        *open_barrier.lock() = None;
        let mut backoff = Duration::from_millis(100);
        loop {
            match send(&options, &mut conn, &batch).await {
                Ok(()) => break,
                Err(err) => {
                    // Keep the batch and retry: a late notification beats a lost one.
                    tracing::warn!(error = %err, "could not send change notifications; retrying");
                    conn = None;
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
        batch.clear();
    }
    if let Some(conn) = conn {
        let _ = conn.close().await;
    }
}

async fn send(
    options: &PgConnectOptions,
    conn: &mut Option<PgConnection>,
    batch: &[String],
) -> Result<(), sqlx::Error> {
    let conn = match conn {
        Some(conn) => conn,
        None => conn.insert(options.connect().await?),
    };
    sqlx::query("SELECT pg_notify($1, payload) FROM UNNEST($2::text[]) AS payload")
        .bind(CHANNEL)
        .bind(batch)
        .execute(conn)
        .await?;
    Ok(())
}

/// LISTENs on its own connection and returns once LISTEN is active; the returned task
/// forwards other processes' changes to `feed`.
pub(super) async fn listen(
    options: &PgConnectOptions,
    feed: Feed,
    origin: Origin,
    echoes: Echoes,
    listening: Listening,
) -> Result<JoinHandle<()>, StoreError> {
    // A private one-connection pool: the listener holds its connection for good, and the
    // pool only serves to reconnect it.
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .max_lifetime(None)
        .idle_timeout(None)
        .connect_lazy_with(options.clone().application_name("lumio-listener"));
    let listener = subscribe(&pool).await?;
    listening.set(true);
    Ok(tokio::spawn(forward_loop(
        pool, listener, feed, origin, echoes, listening,
    )))
}

async fn subscribe(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

async fn forward_loop(
    pool: PgPool,
    mut listener: PgListener,
    feed: Feed,
    origin: Origin,
    echoes: Echoes,
    listening: Listening,
) {
    loop {
        match listener.try_recv().await {
            Ok(Some(notification)) => forward(&feed, origin, &echoes, notification.payload()),
            Ok(None) => {
                // sqlx reconnected and re-LISTENed before returning; what was sent in
                // between is lost.
                tracing::warn!("change feed connection was lost and re-established");
                feed.send(Change::Everything);
                echoes.release_all();
            }
            Err(err) => {
                tracing::warn!(error = %err, "change feed connection failed; reconnecting");
                listening.set(false);
                drop(listener);
                listener = resubscribe(&pool).await;
                listening.set(true);
                tracing::info!("change feed connection re-established");
                echoes.release_all();
                feed.send(Change::Everything);
            }
        }
    }
}

async fn resubscribe(pool: &PgPool) -> PgListener {
    let mut backoff = Duration::from_millis(100);
    loop {
        tokio::time::sleep(backoff).await;
        match subscribe(pool).await {
            Ok(listener) => return listener,
            Err(err) => tracing::warn!(error = %err, "change feed still disconnected"),
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

fn forward(feed: &Feed, origin: Origin, echoes: &Echoes, payload: &str) {
    match payload.parse::<Payload>() {
        // A barrier means something to the process that asked for it only.
        Ok(Payload {
            origin: from,
            change: Change::Synced(seq),
        }) => {
            if from == origin {
                feed.send(Change::Synced(seq));
            }
        }
        // Ours: local subscribers were told at commit; a writer may be waiting for it.
        Ok(Payload { origin: from, .. }) if from == origin => echoes.heard(payload),
        Ok(Payload { change, .. }) => feed.send(change),
        Err(_) => {
            // Not ours to understand (another version?); be safe.
            tracing::warn!("unreadable change notification; dropping all caches");
            feed.send(Change::Everything);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queued_barriers_are_shared_until_taken() {
        let (queue, mut pending) = mpsc::unbounded_channel();
        let notifier = Notifier {
            origin: Origin::random(),
            queue,
            echoes: Echoes::default(),
            barriers: AtomicU64::new(0),
            open_barrier: OpenBarrier::default(),
        };
        assert_eq!((notifier.barrier(), notifier.barrier()), (1, 1));
        assert!(pending.try_recv().unwrap().ends_with(":sync:1"));
        assert!(pending.try_recv().is_err(), "one notification for both");
        // The sender took it: later callers need a barrier of their own.
        *notifier.open_barrier.lock() = None;
        assert_eq!(notifier.barrier(), 2);
    }

    #[test]
    fn a_writer_that_stopped_waiting_does_not_take_a_later_echo() {
        let echoes = Echoes::default();
        let gave_up = echoes.expect("p");
        drop(gave_up); // timed out: its echo was lost while the listener was down
        let mut waiting = echoes.expect("p");
        echoes.heard("p");
        assert!(waiting.try_recv().is_ok(), "the live writer is released");
        assert!(echoes.lock().is_empty(), "nothing is left behind");

        let first = echoes.expect("q");
        let mut second = echoes.expect("q");
        drop(first);
        echoes.heard("q");
        assert!(second.try_recv().is_ok());
    }
}
