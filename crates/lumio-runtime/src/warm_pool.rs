//! The warm contexts of one worker: those with invocations in flight, and those idle,
//! kept for their deployments' next invocations.

use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::compile::Deployment;
use crate::sandbox::WarmContext;

/// Idle contexts one worker keeps, over all deployments: enough for the busy deployments,
/// few enough that idle heaps stay small.
const MAX_IDLE: usize = 32;

/// How long an idle context is kept for its deployment's next invocation.
const IDLE_FOR: Duration = Duration::from_secs(30);

#[derive(Default)]
pub(crate) struct WarmPool {
    /// Every context of this worker that is not retired or still has invocations in
    /// flight; idle ones least recently used first among themselves.
    contexts: Vec<Rc<WarmContext>>,
}

impl WarmPool {
    /// A context of `deployment` of `tenant` with room for one more invocation: the
    /// fullest, so that parked invocations share as few heaps as possible.
    pub fn take(&self, tenant: &str, deployment: &Arc<Deployment>) -> Option<Rc<WarmContext>> {
        self.contexts
            .iter()
            .filter(|warm| warm.serves(tenant, deployment) && warm.has_room())
            .max_by_key(|warm| warm.in_flight())
            .cloned()
    }

    /// Keeps a context the worker made.
    pub fn add(&mut self, warm: &Rc<WarmContext>) {
        if !self.contexts.iter().any(|w| Rc::ptr_eq(w, warm)) {
            self.contexts.push(warm.clone());
        }
    }

    /// An invocation in `warm` ended: drops the context if it is retired and empty, and
    /// the least recently used idle ones beyond [`MAX_IDLE`].
    pub fn released(&mut self, warm: &Rc<WarmContext>) {
        if warm.in_flight() > 0 {
            return;
        }
        if warm.is_retired() {
            self.contexts.retain(|w| !Rc::ptr_eq(w, warm));
            return;
        }
        // Idle now: it moves behind the other idle ones.
        self.contexts.retain(|w| !Rc::ptr_eq(w, warm));
        self.contexts.push(warm.clone());
        let idle = self.contexts.iter().filter(|w| w.in_flight() == 0).count();
        if idle > MAX_IDLE {
            if let Some(at) = self.contexts.iter().position(|w| w.in_flight() == 0) {
                self.contexts.remove(at);
            }
        }
    }

    /// Drops the contexts idle since before `now - IDLE_FOR`; true if any went.
    pub fn expire(&mut self, now: Instant) -> bool {
        let before = self.contexts.len();
        self.contexts.retain(|warm| {
            warm.in_flight() > 0 || now.saturating_duration_since(warm.last_used()) < IDLE_FOR
        });
        self.contexts.len() < before
    }

    /// When the oldest idle context expires.
    pub fn next_expiry(&self) -> Option<Instant> {
        self.contexts
            .iter()
            .filter(|warm| warm.in_flight() == 0)
            .map(|warm| warm.last_used() + IDLE_FOR)
            .min()
    }
}
