//! The warm contexts one worker keeps idle, for the next invocations of their
//! deployments. A context is taken out while an invocation runs in it (one at a time)
//! and put back when that ended cleanly.

use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::compile::Deployment;
use crate::sandbox::WarmContext;

/// Idle contexts one worker keeps, over all deployments: enough for the busy deployments'
/// bursts, few enough that idle heaps stay small.
const MAX_IDLE: usize = 32;

/// How long an idle context is kept for its deployment's next invocation.
pub const IDLE_FOR: Duration = Duration::from_secs(30);

#[derive(Default)]
pub(crate) struct WarmPool {
    /// Least recently used first.
    idle: Vec<Rc<WarmContext>>,
}

impl WarmPool {
    /// An idle context of `deployment` of `tenant`, most recently used first.
    pub fn take(&mut self, tenant: &str, deployment: &Arc<Deployment>) -> Option<Rc<WarmContext>> {
        let at = self
            .idle
            .iter()
            .rposition(|warm| warm.serves(tenant, deployment))?;
        Some(self.idle.remove(at))
    }

    /// Keeps an idle context, dropping the least recently used one beyond [`MAX_IDLE`].
    pub fn put(&mut self, warm: Rc<WarmContext>) {
        self.idle.push(warm);
        if self.idle.len() > MAX_IDLE {
            self.idle.remove(0);
        }
    }

    /// Drops the contexts idle since before `now - IDLE_FOR`; true if any went.
    pub fn expire(&mut self, now: Instant) -> bool {
        let before = self.idle.len();
        self.idle
            .retain(|warm| now.saturating_duration_since(warm.last_used()) < IDLE_FOR);
        self.idle.len() < before
    }

    /// When the oldest idle context expires.
    pub fn next_expiry(&self) -> Option<Instant> {
        self.idle.first().map(|warm| warm.last_used() + IDLE_FOR)
    }
}
