//! Cross-process change feed over PostgreSQL LISTEN/NOTIFY.
//!
//! Notifications are sent right after commit by a background task, on its own connection
//! with `synchronous_commit = off`, not inside the writing transaction: PostgreSQL holds a
//! database-wide lock from a notifying transaction's pre-commit until its commit record is
//! flushed, which serializes every notifying commit behind one WAL flush and capped secret
//! writes below 1,000/s here (measured with pgbench). Payloads name a secret, never a value:
//! `<origin>:<extension id>:<environment>:<name>`, or `<origin>:*` for "drop everything".

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use lumio_core::Environment;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgConnection};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::feed::Feed;
use crate::{rows, Change, StoreError};

const CHANNEL: &str = "lumio_changes";
/// Most notifications sent in one statement; bounds the statement size during imports.
const BATCH: usize = 1024;
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Identifies one store instance, so it can skip the notifications it sent itself (it
/// already announced them locally at commit).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) struct Origin(u64);

impl Origin {
    pub(super) fn random() -> Self {
        // RandomState is seeded from the OS once per process; the counter tells apart
        // several stores in one process.
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(NEXT.fetch_add(1, Ordering::Relaxed));
        Self(hasher.finish())
    }
}

/// Queues notifications for the background sender.
pub(super) struct Notifier {
    origin: Origin,
    queue: mpsc::UnboundedSender<String>,
}

impl Notifier {
    /// Starts the sender task; it ends once the `Notifier` is dropped and the queue drained.
    pub(super) fn start(options: &PgConnectOptions, origin: Origin) -> Self {
        let (queue, pending) = mpsc::unbounded_channel();
        let options = options
            .clone()
            .application_name("lumio-notifier")
            // Losing a notification in a crash is harmless (listeners' connections drop
            // too); waiting for a flush per notification is not.
            .options([("synchronous_commit", "off")]);
        tokio::spawn(send_loop(options, pending));
        Self { origin, queue }
    }

    pub(super) fn secret(&self, extension_id: i64, environment: Environment, name: &str) {
        self.push(format!(
            "{:x}:{extension_id}:{environment}:{name}",
            self.origin.0
        ));
    }

    pub(super) fn everything(&self) {
        self.push(format!("{:x}:*", self.origin.0));
    }

    fn push(&self, payload: String) {
        // Fails only if the task panicked; local subscribers were told already.
        let _ = self.queue.send(payload);
    }
}

async fn send_loop(options: PgConnectOptions, mut pending: mpsc::UnboundedReceiver<String>) {
    let mut conn: Option<PgConnection> = None;
    let mut batch = Vec::new();
    while pending.recv_many(&mut batch, BATCH).await > 0 {
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
) -> Result<JoinHandle<()>, StoreError> {
    // A private one-connection pool: the listener holds its connection for good, and the
    // pool only serves to reconnect it.
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .max_lifetime(None)
        .idle_timeout(None)
        .connect_lazy_with(options.clone().application_name("lumio-listener"));
    let listener = subscribe(&pool).await?;
    Ok(tokio::spawn(forward_loop(pool, listener, feed, origin)))
}

async fn subscribe(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

async fn forward_loop(pool: PgPool, mut listener: PgListener, feed: Feed, origin: Origin) {
    loop {
        match listener.try_recv().await {
            Ok(Some(notification)) => forward(&feed, origin, notification.payload()),
            Ok(None) => {
                // sqlx reconnected and re-LISTENed before returning; what was sent in
                // between is lost.
                tracing::warn!("change feed connection was lost and re-established");
                feed.send(Change::Everything);
            }
            Err(err) => {
                tracing::warn!(error = %err, "change feed connection failed; reconnecting");
                drop(listener);
                listener = resubscribe(&pool).await;
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

fn forward(feed: &Feed, origin: Origin, payload: &str) {
    match parse(payload) {
        Some((from, _)) if from == origin => {}
        Some((_, change)) => feed.send(change),
        None => {
            // Not ours to understand (another version?); be safe.
            tracing::warn!("unreadable change notification; dropping all caches");
            feed.send(Change::Everything);
        }
    }
}

fn parse(payload: &str) -> Option<(Origin, Change)> {
    let (origin, rest) = payload.split_once(':')?;
    let origin = Origin(u64::from_str_radix(origin, 16).ok()?);
    if rest == "*" {
        return Some((origin, Change::Everything));
    }
    let mut parts = rest.splitn(3, ':');
    let extension_id = parts.next()?.parse().ok()?;
    let environment = rows::environment(parts.next()?).ok()?;
    let name = parts.next()?.to_owned();
    Some((
        origin,
        Change::Secret {
            extension_id,
            environment,
            name,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip() {
        let origin = Origin::random();
        let (queue, mut pending) = mpsc::unbounded_channel();
        let notifier = Notifier { origin, queue };
        notifier.secret(7, Environment::Production, "API_KEY");
        notifier.everything();
        let (from, change) = parse(&pending.try_recv().unwrap()).unwrap();
        assert!(from == origin);
        assert_eq!(
            change,
            Change::Secret {
                extension_id: 7,
                environment: Environment::Production,
                name: "API_KEY".into()
            }
        );
        let (_, change) = parse(&pending.try_recv().unwrap()).unwrap();
        assert_eq!(change, Change::Everything);
        assert!(parse("garbage").is_none());
    }
}
