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

/// Values read in one context, and which of them are bound to hosts.
#[derive(Default)]
pub struct SeenValues {
    reads: RefCell<Vec<(SecretName, Arc<SecretValue>)>>,
    bound: RefCell<Vec<(Arc<SecretValue>, Arc<AllowedHosts>)>>,
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
        if let Some(hosts) = &current.allowed_hosts {
            let mut bound = self.bound.borrow_mut();
            if !bound
                .iter()
                .any(|(v, h)| Arc::ptr_eq(v, value) && Arc::ptr_eq(h, hosts))
            {
                bound.push((value.clone(), hosts.clone()));
                self.bump();
            }
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

    pub fn bound(&self) -> std::cell::Ref<'_, Vec<(Arc<SecretValue>, Arc<AllowedHosts>)>> {
        self.bound.borrow()
    }

    /// Whether the context has seen so many values that it should not take more work.
    pub fn is_full(&self) -> bool {
        self.reads.borrow().len() >= MAX_SEEN_VALUES
    }
}
