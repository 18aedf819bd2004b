//! The secret values read in one warm context, by any invocation that ran in it.
//!
//! Invocations of a deployment share a warm context, so a value one invocation read can
//! survive it in a global and reach a later invocation's result, console or fetch. The
//! leak guard and the egress checks therefore work from every value read in the context,
//! not only from the current invocation's reads.

use std::cell::{Cell, RefCell};
use std::sync::Arc;

use lumio_core::{AllowedHosts, CurrentValue, SecretName, SecretValue};

/// Distinct values after which a context is retired: its guard stays small, and a secret
/// rotated many times does not keep every old value in one long-lived heap.
pub const MAX_SEEN_VALUES: usize = 64;

/// A value read under a name, and the binding it was last read with.
type Bound = (SecretName, Arc<SecretValue>, Arc<AllowedHosts>);

/// Values read in one context, and which of them are bound to hosts.
#[derive(Default)]
pub struct SeenValues {
    reads: RefCell<Vec<(SecretName, Arc<SecretValue>)>>,
    /// By (name, value): the binding that value was last read with under that name.
    bound: RefCell<Vec<Bound>>,
    /// Bumped whenever either list grows: a guard built before is out of date.
    generation: Cell<u64>,
}

impl SeenValues {
    /// Records a read (deduplicated).
    pub fn remember(&self, name: &SecretName, current: &CurrentValue) {
        let value = &current.value;
        let mut reads = self.reads.borrow_mut();
        let known = reads
            .iter()
            .any(|(n, v)| n == name && (Arc::ptr_eq(v, value) || v.expose() == value.expose()));
        if !known {
            reads.push((name.clone(), value.clone()));
            self.bump();
        }
        drop(reads);
        // The binding read last is the one that holds for that name and value: a binding
        // changed between two invocations applies to the very next fetch, as for a fresh
        // read. An older value of the name keeps the binding it was last read with.
        let mut bound = self.bound.borrow_mut();
        let at = bound.iter().position(|(n, v, _)| {
            n == name && (Arc::ptr_eq(v, value) || v.expose() == value.expose())
        });
        match (&current.allowed_hosts, at) {
            (Some(hosts), Some(at)) if !Arc::ptr_eq(&bound[at].2, hosts) => {
                bound[at].2 = hosts.clone();
                self.bump();
            }
            (Some(_), Some(_)) => {}
            (Some(hosts), None) => {
                bound.push((name.clone(), value.clone(), hosts.clone()));
                self.bump();
            }
            (None, Some(at)) => {
                bound.remove(at);
                self.bump();
            }
            (None, None) => {}
        }
    }

    fn bump(&self) {
        self.generation.set(self.generation.get() + 1);
    }

    pub fn generation(&self) -> u64 {
        self.generation.get()
    }

    pub fn reads(&self) -> std::cell::Ref<'_, Vec<(SecretName, Arc<SecretValue>)>> {
        self.reads.borrow()
    }

    /// Each bound value with the binding it must respect.
    pub fn bound(&self) -> Vec<(Arc<SecretValue>, Arc<AllowedHosts>)> {
        self.bound
            .borrow()
            .iter()
            .map(|(_, value, hosts)| (value.clone(), hosts.clone()))
            .collect()
    }

    /// Whether the context has seen so many values that it should not take more work.
    pub fn is_full(&self) -> bool {
        self.reads.borrow().len() >= MAX_SEEN_VALUES
    }
}
