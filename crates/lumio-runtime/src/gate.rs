//! Slots: the bounds on invocations in flight (queued, running and parked). Beyond a
//! bound a new invocation fails at once with `overloaded` instead of growing memory. Three
//! bounds nest: the server's, each extension's share of it (one extension cannot hold the
//! slots every other one needs) and each action's share of its extension's (one slow
//! action cannot starve the extension's fast ones).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// The bounds, after defaults were applied.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bounds {
    pub server: usize,
    pub extension: usize,
    pub action: usize,
}

/// Counts invocations in flight against the bounds.
#[derive(Debug)]
pub(crate) struct Gate {
    bounds: Bounds,
    in_flight: AtomicUsize,
    tenants: Mutex<HashMap<Arc<str>, TenantSlots>>,
}

#[derive(Debug, Default)]
struct TenantSlots {
    in_flight: usize,
    by_action: HashMap<Arc<str>, usize>,
}

/// Which bound refused an invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Full {
    Server(usize),
    Extension(usize),
    Action(usize),
}

/// One invocation's place in the gate, given back when dropped.
#[derive(Debug)]
pub(crate) struct Permit {
    gate: Arc<Gate>,
    tenant: Arc<str>,
    action: Arc<str>,
}

impl Gate {
    pub fn new(bounds: Bounds) -> Arc<Self> {
        Arc::new(Self {
            bounds: Bounds {
                server: bounds.server.max(1),
                extension: bounds.extension.max(1),
                action: bounds.action.max(1),
            },
            in_flight: AtomicUsize::new(0),
            tenants: Mutex::default(),
        })
    }

    /// A place for `action` of `tenant`, unless a bound is reached.
    pub fn try_enter(self: &Arc<Self>, tenant: &Arc<str>, action: &str) -> Result<Permit, Full> {
        let mut tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        if self.in_flight.load(Ordering::Acquire) >= self.bounds.server {
            return Err(Full::Server(self.bounds.server));
        }
        let slots = tenants.entry(tenant.clone()).or_default();
        if slots.in_flight >= self.bounds.extension {
            return Err(Full::Extension(self.bounds.extension));
        }
        let (action, held) = match slots.by_action.get_key_value(action) {
            Some((name, held)) => (name.clone(), *held),
            None => (Arc::from(action), 0),
        };
        if held >= self.bounds.action {
            return Err(Full::Action(self.bounds.action));
        }
        slots.in_flight += 1;
        *slots.by_action.entry(action.clone()).or_default() += 1;
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        Ok(Permit {
            gate: self.clone(),
            tenant: tenant.clone(),
            action,
        })
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    pub fn bounds(&self) -> Bounds {
        self.bounds
    }

    fn leave(&self, tenant: &Arc<str>, action: &Arc<str>) {
        let mut tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
        let Some(slots) = tenants.get_mut(tenant) else {
            return;
        };
        slots.in_flight -= 1;
        if let Some(held) = slots.by_action.get_mut(action) {
            *held -= 1;
            if *held == 0 {
                slots.by_action.remove(action);
            }
        }
        // Idle tenants take no memory: a map of every extension ever called would grow.
        if slots.in_flight == 0 {
            tenants.remove(tenant);
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.gate.leave(&self.tenant, &self.action);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(server: usize, extension: usize, action: usize) -> Arc<Gate> {
        Gate::new(Bounds {
            server,
            extension,
            action,
        })
    }

    #[test]
    fn no_more_than_the_server_bound_enter_and_leaving_frees_a_place() {
        let gate = gate(2, 2, 2);
        let (a, b) = (Arc::from("a"), Arc::from("b"));
        let first = gate.try_enter(&a, "f").unwrap();
        let _second = gate.try_enter(&b, "f").unwrap();
        assert_eq!(gate.try_enter(&b, "g").unwrap_err(), Full::Server(2));
        assert_eq!(gate.in_flight(), 2);
        drop(first);
        assert!(gate.try_enter(&b, "g").is_ok());
    }

    #[test]
    fn one_extension_cannot_take_the_others_slots() {
        let gate = gate(10, 3, 3);
        let (hog, victim) = (Arc::from("hog"), Arc::from("victim"));
        let held: Vec<_> = ["f", "g", "h"]
            .iter()
            .map(|action| gate.try_enter(&hog, action).unwrap())
            .collect();
        assert_eq!(gate.try_enter(&hog, "i").unwrap_err(), Full::Extension(3));
        assert!(gate.try_enter(&victim, "f").is_ok());
        drop(held);
        assert!(gate.try_enter(&hog, "i").is_ok());
    }

    #[test]
    fn one_action_cannot_take_its_extensions_other_actions_slots() {
        let gate = gate(10, 4, 2);
        let ext = Arc::from("ext");
        let _slow = [
            gate.try_enter(&ext, "slow").unwrap(),
            gate.try_enter(&ext, "slow").unwrap(),
        ];
        assert_eq!(gate.try_enter(&ext, "slow").unwrap_err(), Full::Action(2));
        assert!(gate.try_enter(&ext, "fast").is_ok());
    }

    #[test]
    fn idle_tenants_are_forgotten() {
        let gate = gate(10, 4, 2);
        drop(gate.try_enter(&Arc::from("once"), "f").unwrap());
        assert!(gate.tenants.lock().unwrap().is_empty());
    }
}
