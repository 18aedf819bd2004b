//! Barriers through the change feed: a point after which this process's listener has
//! forwarded every change another process told it about before the barrier was asked for.
//!
//! A barrier is one query on the listener's own connection, answered after whatever
//! PostgreSQL had to send that connection first. A notifying transaction signals every
//! listening backend as it commits, before its sender gets its answer; a listening backend
//! that was signalled sends the notifications before it runs the next query it reads (it
//! handles the signal as the read returns, while still reading a command). Writers return
//! only once their notifier's statement has been answered (`Notifier::send`), so a change
//! that a caller saw committed is on the listener's connection ahead of the answer to any
//! barrier asked for afterwards, on every process.
//!
//! Barriers used to be a NOTIFY to this process itself (ordered by PostgreSQL's
//! notification queue): each took a transaction id and the database-wide notification
//! lock, and woke every listener of every process. One per few invocations, that was most
//! of the no-op action's cost in PostgreSQL (docs/benchmarks.md).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

#[derive(Clone, Default)]
pub(super) struct Barriers(Arc<Shared>);

#[derive(Default)]
struct Shared {
    /// The barrier asked for and not yet taken by the listener. Callers share it: its
    /// query is sent after each of them asked.
    open: Mutex<Option<u64>>,
    /// The newest barrier handed out.
    newest: AtomicU64,
    /// Wakes the listener when a barrier opens.
    opened: Notify,
}

impl Barriers {
    /// A barrier whose query will be sent after this call: joins the open one if there is
    /// one, else opens the next.
    pub(super) fn ask(&self) -> u64 {
        let mut open = self.lock();
        if let Some(seq) = *open {
            return seq;
        }
        let seq = self.0.newest.fetch_add(1, Ordering::Relaxed) + 1;
        *open = Some(seq);
        self.0.opened.notify_one();
        seq
    }

    /// Waits until a barrier is open and takes it: callers asking from now on open the
    /// next one. Cancel-safe: nothing is taken until it returns, and a wake-up it drops
    /// passes to the next wait. (Queries sent back to back did best: a pause between
    /// them, to share each among more callers, cost more in waiting than it saved.)
    pub(super) async fn take(&self) -> u64 {
        loop {
            if let Some(seq) = self.lock().take() {
                return seq;
            }
            self.0.opened.notified().await;
        }
    }

    /// The feed is given up on: closes the open barrier, so no caller joins one that is
    /// about to be released without its query, and returns the newest handed out, which
    /// the caller releases at once. Barriers asked for afterwards wait for a query on the
    /// next connection.
    pub(super) fn abandon(&self) -> u64 {
        let mut open = self.lock();
        *open = None;
        self.0.newest.load(Ordering::Relaxed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<u64>> {
        // Nothing panics while it is held; a poisoned lock still holds a good value.
        self.0.open.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn barriers_are_shared_until_taken() {
        let barriers = Barriers::default();
        assert_eq!((barriers.ask(), barriers.ask()), (1, 1));
        assert_eq!(barriers.take().await, 1);
        // Taken: its query may be on its way already, so later callers need the next one.
        assert_eq!(barriers.ask(), 2);
        assert_eq!(barriers.take().await, 2);
    }

    #[test]
    fn an_abandoned_barrier_is_not_joined() {
        let barriers = Barriers::default();
        assert_eq!(barriers.ask(), 1);
        // The feed was lost: 1 is released without its query, so a caller asking now
        // must not be handed 1 (it would pass at once, vouched for by nothing).
        assert_eq!(barriers.abandon(), 1);
        assert_eq!(barriers.ask(), 2);
    }

    #[tokio::test]
    async fn a_barrier_asked_while_the_listener_waits_wakes_it() {
        let barriers = Barriers::default();
        let listener = tokio::spawn({
            let barriers = barriers.clone();
            async move { barriers.take().await }
        });
        tokio::task::yield_now().await;
        assert_eq!(barriers.ask(), 1);
        let taken = tokio::time::timeout(std::time::Duration::from_secs(5), listener);
        assert_eq!(taken.await.expect("woken").unwrap(), 1);
    }
}
