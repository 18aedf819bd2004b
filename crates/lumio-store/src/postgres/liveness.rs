//! Whether the change feed still answers.
//!
//! A listener whose connection went silent (no error, no notification: a network black
//! hole) would otherwise be trusted for good, and every invocation would wait out its
//! barrier. This process's own notifications are the probe: each one it queues must come
//! back to its own listener within [`STALL_AFTER`], and the notifier queues a heartbeat
//! when it has sent nothing for [`HEARTBEAT_EVERY`]. A feed that is not live is treated
//! like a lost one: no barriers are asked for, and the listener connects afresh.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Longest time a notification of this process may take to come back to its listener.
/// Delivery takes well under a millisecond; this leaves room for a busy database.
pub(super) const STALL_AFTER: Duration = Duration::from_secs(1);
/// The notifier's heartbeat when it has nothing else to send.
pub(super) const HEARTBEAT_EVERY: Duration = Duration::from_millis(400);

#[derive(Clone, Default)]
pub(super) struct Liveness(Arc<Mutex<State>>);

#[derive(Default)]
struct State {
    /// The listener is connected and LISTENing.
    connected: bool,
    /// When each notification of this process not yet heard back was queued, oldest first.
    unheard: VecDeque<Instant>,
    last_queued: Option<Instant>,
}

impl Liveness {
    /// Connected, and nothing this process sent has gone unheard for too long.
    pub(super) fn live(&self) -> bool {
        let state = self.lock();
        state.connected && !stalled(&state)
    }

    /// Connected, but something this process sent has gone unheard for too long.
    pub(super) fn stalled(&self) -> bool {
        let state = self.lock();
        state.connected && stalled(&state)
    }

    /// The listener (re)connected or was given up on: what was sent before will not come
    /// back either way.
    pub(super) fn set_connected(&self, up: bool) {
        let mut state = self.lock();
        state.connected = up;
        state.unheard.clear();
    }

    /// The notifier queued one of this process's notifications.
    pub(super) fn queued(&self) {
        let mut state = self.lock();
        let now = Instant::now();
        state.last_queued = Some(now);
        if state.connected {
            state.unheard.push_back(now);
        }
    }

    /// The listener heard one of this process's notifications back (they come back in the
    /// order they were sent).
    pub(super) fn heard(&self) {
        self.lock().unheard.pop_front();
    }

    /// Nothing was queued for at least `quiet`.
    pub(super) fn quiet_for(&self, quiet: Duration) -> bool {
        self.lock()
            .last_queued
            .is_none_or(|at| at.elapsed() >= quiet)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Nothing panics while it is held; a poisoned lock still holds good values.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn stalled(state: &State) -> bool {
    state
        .unheard
        .front()
        .is_some_and(|queued| queued.elapsed() > STALL_AFTER)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notification_unheard_for_too_long_stalls_the_feed() {
        let liveness = Liveness::default();
        assert!(!liveness.live(), "not live before the listener connects");
        liveness.set_connected(true);
        liveness.queued();
        assert!(liveness.live(), "just sent: still live");
        liveness.lock().unheard[0] -= STALL_AFTER * 2;
        assert!(liveness.stalled() && !liveness.live());
        liveness.heard();
        assert!(liveness.live(), "heard back: live again");
    }

    #[test]
    fn reconnecting_forgets_what_was_sent_before() {
        let liveness = Liveness::default();
        liveness.set_connected(true);
        liveness.queued();
        liveness.lock().unheard[0] -= STALL_AFTER * 2;
        liveness.set_connected(false);
        assert!(!liveness.stalled(), "a lost feed is not a stalled one");
        liveness.queued();
        liveness.set_connected(true);
        assert!(liveness.live());
    }
}
