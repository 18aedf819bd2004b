//! The in-process change feed every store owns.

use std::time::Duration;

use tokio::sync::broadcast::{self, error::RecvError};
use tokio::sync::watch;

use crate::Change;

/// Room for one big import plus slack. A receiver that falls further behind gets
/// `RecvError::Lagged` and must treat it like [`Change::Everything`].
const CAPACITY: usize = 4096;

#[derive(Clone)]
pub(crate) struct Feed {
    sender: broadcast::Sender<Change>,
}

impl Feed {
    pub(crate) fn new() -> Self {
        Self {
            sender: broadcast::channel(CAPACITY).0,
        }
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.sender.subscribe()
    }

    pub(crate) fn send(&self, change: Change) {
        // An error only means nobody is subscribed right now.
        let _ = self.sender.send(change);
    }
}

/// Applies a store's change feed with `apply` until the store goes away. A receiver that
/// fell behind may have missed anything, so it is handed [`Change::Everything`].
///
/// # Panics
/// Outside a tokio runtime.
pub fn follow(mut feed: broadcast::Receiver<Change>, apply: impl Fn(&Change) + Send + 'static) {
    tokio::spawn(async move {
        loop {
            match feed.recv().await {
                Ok(change) => apply(&change),
                Err(RecvError::Lagged(_)) => apply(&Change::Everything),
                Err(RecvError::Closed) => break,
            }
        }
    });
}

/// The newest feed barrier ([`Change::Synced`]) a follower has applied everything before.
pub struct SyncedUpTo(watch::Sender<u64>);

impl Default for SyncedUpTo {
    fn default() -> Self {
        Self(watch::channel(0).0)
    }
}

impl SyncedUpTo {
    /// Records that the follower applied barrier `seq` (barriers may arrive out of order
    /// across followers; the newest wins).
    pub fn reached(&self, seq: u64) {
        self.0.send_if_modified(|at| {
            let newer = seq > *at;
            *at = (*at).max(seq);
            newer
        });
    }

    /// Waits until barrier `marker` is reached; false if `within` runs out first.
    pub async fn wait(&self, marker: u64, within: Duration) -> bool {
        let mut synced = self.0.subscribe();
        let reached = tokio::time::timeout(within, synced.wait_for(|at| *at >= marker)).await;
        matches!(reached, Ok(Ok(_)))
    }
}
