//! The server-wide bound on invocations in flight (queued, running and parked): beyond
//! it a new invocation fails at once with `overloaded` instead of growing memory.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Counts invocations in flight against a maximum.
#[derive(Debug)]
pub(crate) struct Gate {
    in_flight: AtomicUsize,
    max: usize,
}

/// One invocation's place in the gate, given back when dropped.
#[derive(Debug)]
pub(crate) struct Permit(Arc<Gate>);

impl Gate {
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(Self {
            in_flight: AtomicUsize::new(0),
            max: max.max(1),
        })
    }

    /// A place, unless `max` invocations are already in flight.
    pub fn try_enter(self: &Arc<Self>) -> Option<Permit> {
        let entered = self
            .in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max).then_some(n + 1)
            });
        entered.ok().map(|_| Permit(self.clone()))
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    pub fn max(&self) -> usize {
        self.max
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_more_than_max_enter_and_leaving_frees_a_place() {
        let gate = Gate::new(2);
        let a = gate.try_enter().unwrap();
        let _b = gate.try_enter().unwrap();
        assert!(gate.try_enter().is_none());
        assert_eq!(gate.in_flight(), 2);
        drop(a);
        assert!(gate.try_enter().is_some());
    }
}
