//! CPU-time accounting for one invocation's interrupt handler. Time counts only while the
//! worker runs this invocation's JavaScript: a parked invocation (awaiting `ctx.fetch`, a
//! timer or the audit log) uses none, and other invocations on the worker never draw on it.
//!
//! What counts is the worker thread's own CPU time, so a machine busy with other work does
//! not push an invocation over its limit. Reading a thread's CPU clock is a system call,
//! so the interrupt handler first looks at the wall clock (cheap, never less than the CPU
//! time spent) and reads the CPU clock only once the wall clock says the budget is spent.

use std::cell::Cell;
use std::time::{Duration, Instant};

/// One invocation's CPU-time budget.
pub struct Clock {
    budget: Duration,
    used: Cell<Duration>,
    running_since: Cell<Option<Since>>,
    fired: Cell<bool>,
}

/// When the current stretch of running began, by both clocks.
#[derive(Clone, Copy)]
struct Since {
    wall: Instant,
    cpu: Option<Duration>,
}

impl Since {
    fn now() -> Self {
        Self {
            wall: Instant::now(),
            cpu: thread_cpu_time(),
        }
    }

    /// CPU time of this thread since then (wall time where the CPU clock is unavailable).
    fn cpu_elapsed(&self) -> Duration {
        match (self.cpu, thread_cpu_time()) {
            (Some(then), Some(now)) => now.saturating_sub(then),
            _ => self.wall.elapsed(),
        }
    }
}

fn thread_cpu_time() -> Option<Duration> {
    cpu_time::ThreadTime::try_now()
        .ok()
        .map(|t| t.as_duration())
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

    /// The worker starts (or resumes) running this invocation's JavaScript; nothing if
    /// it is running already.
    pub fn enter(&self) {
        if self.running_since.get().is_none() {
            self.running_since.set(Some(Since::now()));
        }
    }

    /// The worker stops running it (it parked or finished).
    pub fn leave(&self) {
        if let Some(since) = self.running_since.take() {
            self.used.set(self.used.get() + since.cpu_elapsed());
        }
    }

    /// Called by QuickJS every few thousand instructions: true interrupts the script.
    pub fn check(&self) -> bool {
        if self.fired.get() {
            return true;
        }
        let Some(since) = self.running_since.get() else {
            return self.used.get() >= self.budget;
        };
        if self.used.get() + since.wall.elapsed() < self.budget {
            return false;
        }
        if self.used.get() + since.cpu_elapsed() >= self.budget {
            self.fired.set(true);
        }
        self.fired.get()
    }

    /// Whether the budget ran out.
    pub fn fired(&self) -> bool {
        self.fired.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiting_is_not_cpu_time_but_spinning_is() {
        let clock = Clock::new(Duration::from_millis(50));
        clock.enter();
        std::thread::sleep(Duration::from_millis(80));
        assert!(!clock.check(), "sleeping on the worker is not CPU time");
        let spin = Instant::now();
        while !clock.check() {
            assert!(
                spin.elapsed() < Duration::from_secs(10),
                "the clock never fired"
            );
        }
        clock.leave();
        assert!(clock.fired());
    }
}
