//! CPU-time accounting for one invocation's interrupt handler. Time counts only while the
//! worker runs this invocation's JavaScript: a parked invocation (awaiting `ctx.fetch`, a
//! timer or the audit log) uses none, and other invocations on the worker never draw on it.

use std::cell::Cell;
use std::time::{Duration, Instant};

/// One invocation's CPU-time budget.
pub struct Clock {
    budget: Duration,
    used: Cell<Duration>,
    running_since: Cell<Option<Instant>>,
    fired: Cell<bool>,
}

impl Clock {
    pub fn new(budget: Duration) -> Self {
        Self {
            budget,
            used: Cell::new(Duration::ZERO),
            running_since: Cell::new(None),
            fired: Cell::new(false),
        }
    }

    /// The worker starts (or resumes) running this invocation's JavaScript.
    pub fn enter(&self) {
        self.running_since.set(Some(Instant::now()));
    }

    /// The worker stops running it (it parked or finished).
    pub fn leave(&self) {
        if let Some(since) = self.running_since.take() {
            self.used.set(self.used.get() + since.elapsed());
        }
    }

    /// Called by QuickJS every few thousand instructions: true interrupts the script.
    pub fn check(&self) -> bool {
        if self.fired.get() {
            return true;
        }
        let running = self
            .running_since
            .get()
            .map_or(Duration::ZERO, |s| s.elapsed());
        if self.used.get() + running >= self.budget {
            self.fired.set(true);
        }
        self.fired.get()
    }

    /// Whether the budget ran out.
    pub fn fired(&self) -> bool {
        self.fired.get()
    }
}
