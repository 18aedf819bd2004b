//! Cross-process change feed over PostgreSQL LISTEN/NOTIFY.
//!
//! Notifications are sent right after commit by a background task, on its own connection
//! with `synchronous_commit = off`, not inside the writing transaction: PostgreSQL holds a
//! database-wide lock from a notifying transaction's pre-commit until its commit record is
//! flushed, which serializes every notifying commit behind one WAL flush and capped secret
//! writes below 1,000/s here (measured with pgbench). What a payload says is [`Payload`].

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgConnection};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::barrier::Barriers;
use super::failover::Primary;
use super::liveness::{Liveness, HEARTBEAT_EVERY, STALL_AFTER};
use super::payload::{Origin, Payload};
use crate::feed::Feed;
use crate::{Change, StoreError};

const CHANNEL: &str = "lumio_changes";
/// Most notifications sent in one statement; bounds the statement size during imports.
const BATCH: usize = 1024;
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Longest wait for the notifier's statement (or its connection) before it connects
/// afresh: a silent connection must not hold every notification back.
const SEND_WAIT: Duration = Duration::from_secs(2);
/// Longest wait for the listener to connect and LISTEN before trying again.
const SUBSCRIBE_WAIT: Duration = Duration::from_secs(2);

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

/// Queues notifications for the background sender.
pub(super) struct Notifier {
    origin: Origin,
    queue: mpsc::UnboundedSender<Queued>,
    echoes: Echoes,
    liveness: Liveness,
}

/// A notification waiting for the sender, and who waits for its statement's answer.
struct Queued {
    payload: String,
    answered: Option<oneshot::Sender<()>>,
}

/// What a writer waits for after queueing a change: the sender's statement answered (by
/// then PostgreSQL has signalled every listening backend, which is what barriers rely
/// on), and the change heard back by this process's own listener.
pub(super) struct Sent {
    pub answered: oneshot::Receiver<()>,
    pub echoed: oneshot::Receiver<()>,
}

impl Notifier {
    /// Starts the sender task; it ends once the `Notifier` is dropped and the queue drained.
    /// A heartbeat is queued whenever nothing else was for a while, so `liveness` learns of
    /// a silent feed even when nothing changes.
    pub(super) fn start(
        primary: &Primary,
        origin: Origin,
        echoes: Echoes,
        liveness: Liveness,
    ) -> Self {
        let (queue, pending) = mpsc::unbounded_channel();
        tokio::spawn(send_loop(primary.clone(), pending));
        let heartbeat = Payload {
            origin,
            change: Change::Synced(0),
        }
        .to_string();
        tokio::spawn(heartbeat_loop(
            queue.downgrade(),
            heartbeat,
            liveness.clone(),
        ));
        Self {
            origin,
            queue,
            echoes,
            liveness,
        }
    }

    /// Queues a change, with what to wait for before another process is told to look.
    pub(super) fn send(&self, change: Change) -> Sent {
        let payload = self.payload(change);
        let echoed = self.echoes.expect(&payload);
        let (answered, on_answer) = oneshot::channel();
        self.push(Queued {
            payload,
            answered: Some(answered),
        });
        Sent {
            answered: on_answer,
            echoed,
        }
    }

    fn payload(&self, change: Change) -> String {
        let origin = self.origin;
        Payload { origin, change }.to_string()
    }

    pub(super) fn everything(&self) {
        self.push(Queued {
            payload: self.payload(Change::Everything),
            answered: None,
        });
    }

    fn push(&self, queued: Queued) {
        self.liveness.queued();
        // Fails only if the task panicked; local subscribers were told already.
        let _ = self.queue.send(queued);
    }
}

/// Queues `heartbeat` whenever nothing was queued for [`HEARTBEAT_EVERY`], until the
/// notifier is gone.
async fn heartbeat_loop(
    queue: mpsc::WeakUnboundedSender<Queued>,
    heartbeat: String,
    liveness: Liveness,
) {
    let mut tick = tokio::time::interval(HEARTBEAT_EVERY / 2);
    loop {
        tick.tick().await;
        let Some(queue) = queue.upgrade() else { return };
        if liveness.quiet_for(HEARTBEAT_EVERY) {
            liveness.queued();
            let _ = queue.send(Queued {
                payload: heartbeat.clone(),
                answered: None,
            });
        }
    }
}

async fn send_loop(primary: Primary, mut pending: mpsc::UnboundedReceiver<Queued>) {
    let mut conn: Option<PgConnection> = None;
    let mut batch = Vec::new();
    while pending.recv_many(&mut batch, BATCH).await > 0 {
        let payloads: Vec<&str> = batch.iter().map(|q| q.payload.as_str()).collect();
        let mut backoff = Duration::from_millis(100);
        loop {
            let sent = tokio::time::timeout(SEND_WAIT, send(&primary, &mut conn, &payloads)).await;
            let sent = sent.unwrap_or_else(|_| {
                Err(sqlx::Error::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("no answer within {SEND_WAIT:?}"),
                )))
            });
            match sent {
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
        for queued in batch.drain(..) {
            if let Some(answered) = queued.answered {
                let _ = answered.send(());
            }
        }
    }
    if let Some(conn) = conn {
        let _ = conn.close().await;
    }
}

async fn send(
    primary: &Primary,
    conn: &mut Option<PgConnection>,
    batch: &[&str],
) -> Result<(), sqlx::Error> {
    let conn = match conn {
        Some(conn) => conn,
        None => conn.insert(notifier_options(primary).connect().await?),
    };
    sqlx::query("SELECT pg_notify($1, payload) FROM UNNEST($2::text[]) AS payload")
        .bind(CHANNEL)
        .bind(batch)
        .execute(conn)
        .await?;
    Ok(())
}

/// The notifier's connection: to the primary as of now.
fn notifier_options(primary: &Primary) -> PgConnectOptions {
    primary
        .options()
        .application_name("lumio-notifier")
        // Losing a notification in a crash is harmless (listeners' connections drop too);
        // waiting for a flush per notification is not.
        .options([("synchronous_commit", "off")])
}

/// The listener's connection: to the primary as of now.
fn listener_options(primary: &Primary) -> PgConnectOptions {
    primary.options().application_name("lumio-listener")
}

/// LISTENs on its own connection and returns once LISTEN is active; the returned task
/// forwards other processes' changes to `feed`, and connects afresh whenever the
/// connection is lost or goes silent.
pub(super) async fn listen(
    primary: &Primary,
    forward: Forward,
) -> Result<JoinHandle<()>, StoreError> {
    let listener = subscribe(&listener_options(primary)).await?;
    forward.liveness.set_connected(true);
    Ok(tokio::spawn(forward.run(primary.clone(), listener)))
}

/// A private one-connection pool per attempt: a connection that went silent may be stuck
/// in sqlx's cleanup for as long as the silence lasts, and must not hold the next one up.
async fn subscribe(options: &PgConnectOptions) -> Result<PgListener, sqlx::Error> {
    let pool: PgPool = PgPoolOptions::new()
        .max_connections(1)
        .max_lifetime(None)
        .idle_timeout(None)
        .acquire_timeout(SUBSCRIBE_WAIT)
        .connect_lazy_with(options.clone());
    let listening = async {
        let mut listener = PgListener::connect_with(&pool).await?;
        // Reconnecting is this task's job, with a fresh pool (above).
        listener.eager_reconnect(false);
        listener.listen(CHANNEL).await?;
        Ok(listener)
    };
    tokio::time::timeout(SUBSCRIBE_WAIT, listening)
        .await
        .unwrap_or(Err(sqlx::Error::PoolTimedOut))
}

/// Where the listener's notifications go, and the barriers it answers.
pub(super) struct Forward {
    pub feed: Feed,
    pub origin: Origin,
    pub echoes: Echoes,
    pub liveness: Liveness,
    pub barriers: Barriers,
}

impl Forward {
    async fn run(self, primary: Primary, mut listener: PgListener) {
        loop {
            let lost = tokio::select! {
                lost = self.until_lost(&mut listener) => lost,
                () = self.until_stalled() => format!(
                    "no notification of this process came back within {STALL_AFTER:?}"
                ),
            };
            // Dropping the listener leaves its connection to sqlx's cleanup.
            drop(listener);
            tracing::warn!(reason = %lost, "change feed lost; reconnecting");
            self.give_up();
            listener = self.resubscribe(&primary).await;
            self.liveness.set_connected(true);
            tracing::info!("change feed connection re-established");
            // What was sent while it was down is lost: every cache starts again.
            self.echoes.release_all();
            self.feed.send(Change::Everything);
        }
    }

    /// Forwards notifications and answers barriers until the connection fails; why it
    /// failed.
    async fn until_lost(&self, listener: &mut PgListener) -> String {
        loop {
            // Both are cancel-safe: sqlx keeps a message it has not read whole, and a
            // barrier is taken only as `take` returns.
            tokio::select! {
                received = listener.try_recv() => match received {
                    Ok(Some(notification)) => self.forward(notification.payload()),
                    Ok(None) => return "the connection closed".to_owned(),
                    Err(err) => return err.to_string(),
                },
                seq = self.barriers.take() => {
                    if let Err(lost) = self.pass_barrier(listener, seq).await {
                        return lost;
                    }
                }
            }
        }
    }

    /// Sends barrier `seq`'s query, forwards what arrived ahead of its answer, then tells
    /// the feed the barrier is passed.
    async fn pass_barrier(&self, listener: &mut PgListener, seq: u64) -> Result<(), String> {
        let query = async {
            let conn = sqlx::Acquire::acquire(&mut *listener).await?;
            sqlx::Executor::execute(conn, "SELECT 1").await
        };
        match tokio::time::timeout(STALL_AFTER, query).await {
            Ok(Ok(_)) => {}
            Ok(Err(err)) => return Err(err.to_string()),
            Err(_) => return Err(format!("a barrier went unanswered for {STALL_AFTER:?}")),
        }
        // Notifications that came during the query wait in the listener's buffer.
        while let Some(notification) = listener.next_buffered() {
            self.forward(notification.payload());
        }
        self.feed.send(Change::Synced(seq));
        Ok(())
    }

    async fn until_stalled(&self) {
        let mut tick = tokio::time::interval(STALL_AFTER / 4);
        loop {
            tick.tick().await;
            if self.liveness.stalled() {
                return;
            }
        }
    }

    /// The feed can no longer vouch for anything: caches are dropped, and whoever waits
    /// for a barrier or an echo goes on at once (reading past the caches).
    fn give_up(&self) {
        self.liveness.set_connected(false);
        self.feed.send(Change::Everything);
        self.feed.send(Change::Synced(self.barriers.abandon()));
        self.echoes.release_all();
    }

    async fn resubscribe(&self, primary: &Primary) -> PgListener {
        let mut backoff = Duration::from_millis(100);
        loop {
            tokio::time::sleep(backoff).await;
            match subscribe(&listener_options(primary)).await {
                Ok(listener) => return listener,
                Err(err) => tracing::warn!(error = %err, "change feed still disconnected"),
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    fn forward(&self, payload: &str) {
        forward(
            &self.feed,
            self.origin,
            &self.echoes,
            &self.liveness,
            payload,
        );
    }
}

fn forward(feed: &Feed, origin: Origin, echoes: &Echoes, liveness: &Liveness, payload: &str) {
    let parsed = payload.parse::<Payload>();
    if matches!(&parsed, Ok(Payload { origin: from, .. }) if *from == origin) {
        liveness.heard();
    }
    match parsed {
        // A heartbeat (`sync:0`; older versions also sent their barriers this way): it
        // only proves the feed alive, which `heard` took note of above.
        Ok(Payload {
            change: Change::Synced(_),
            ..
        }) => {}
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
