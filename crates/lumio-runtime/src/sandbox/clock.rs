//! CPU-time accounting for the interrupt handler: a budget that pauses while the worker
//! waits for `ctx.fetch` (waiting is not computing).

use std::cell::Cell;
use std::time::{Duration, Instant};

/// The running invocation's CPU-time budget.
#[derive(Default)]
pub struct Clock {
    ends_at: Cell<Option<Instant>>,
    paused_at: Cell<Option<Instant>>,
    fired: Cell<bool>,
}

impl Clock {
    pub fn start(&self, budget: Duration) {
        self.ends_at.set(Some(Instant::now() + budget));
        self.paused_at.set(None);
        self.fired.set(false);
    }

    pub fn stop(&self) {
        self.ends_at.set(None);
        self.paused_at.set(None);
    }

    pub fn pause(&self) {
        self.paused_at.set(Some(Instant::now()));
    }

    pub fn resume(&self) {
        if let (Some(paused), Some(ends)) = (self.paused_at.take(), self.ends_at.get()) {
            self.ends_at.set(Some(ends + paused.elapsed()));
        }
    }

    /// Called by QuickJS every few thousand instructions: true interrupts the script.
    pub fn check(&self) -> bool {
        if self.fired.get() {
            return true;
        }
        match self.ends_at.get() {
            Some(ends) if self.paused_at.get().is_none() && Instant::now() >= ends => {
                self.fired.set(true);
                true
            }
            _ => false,
        }
    }

    /// Whether the budget ran out during this invocation.
    pub fn fired(&self) -> bool {
        self.fired.get()
    }
}
