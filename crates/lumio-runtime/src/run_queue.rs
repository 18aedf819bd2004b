//! Invocations waiting for a worker, one queue per extension, served in turn: a worker
//! that is free takes the next extension's oldest invocation, so an extension with a
//! thousand calls queued delays another's next call by at most one invocation per
//! extension ahead of it, not by a thousand.
//!
//! An extension may be skipped: one that already has as many *long* runs on workers as
//! it may (see [`crate::fairness`]) waits while others are served.

use std::collections::{HashMap, VecDeque};
use std::sync::{Condvar, Mutex};

use crate::worker::Queued;

/// Which extension an invocation belongs to, as a number: compared on every scheduling
/// decision, so cheaper than the name (see `Runtime::tenant_id`).
pub(crate) type TenantId = u64;

#[derive(Default)]
struct Queues {
    by_tenant: HashMap<TenantId, VecDeque<Queued>>,
    /// Tenants with something queued, in the order they are served.
    turn: VecDeque<TenantId>,
    len: usize,
}

/// The queue every worker takes new invocations from.
#[derive(Default)]
pub(crate) struct RunQueue {
    queues: Mutex<Queues>,
    /// Signalled when something is queued (the watchdog sleeps on it while nothing is).
    queued: Condvar,
}

impl RunQueue {
    pub fn push(&self, tenant: TenantId, job: Queued) {
        let mut queues = self.lock();
        let queue = queues.by_tenant.entry(tenant).or_default();
        let first = queue.is_empty();
        queue.push_back(job);
        if first {
            queues.turn.push_back(tenant);
        }
        queues.len += 1;
        drop(queues);
        self.queued.notify_all();
    }

    /// The oldest invocation of the first tenant in turn that `may_start` allows; that
    /// tenant goes to the back of the turn. `may_start` is told whether other tenants are
    /// waiting too.
    pub fn pop(&self, mut may_start: impl FnMut(TenantId, bool) -> bool) -> Option<Queued> {
        let mut queues = self.lock();
        let waiting = queues.turn.len();
        let at = (0..waiting).find(|&i| may_start(queues.turn[i], waiting > 1))?;
        let tenant = queues.turn.remove(at)?;
        let queue = queues.by_tenant.get_mut(&tenant)?;
        let job = queue.pop_front();
        if queue.is_empty() {
            queues.by_tenant.remove(&tenant);
        } else {
            queues.turn.push_back(tenant);
        }
        queues.len -= usize::from(job.is_some());
        job
    }

    /// Whether a tenant other than `tenant` has something queued.
    pub fn others_waiting(&self, tenant: TenantId) -> bool {
        self.lock().turn.iter().any(|&t| t != tenant)
    }

    /// Whether some queued tenant passes `may_start` (for the watchdog).
    pub fn any_startable(&self, mut may_start: impl FnMut(TenantId) -> bool) -> bool {
        self.lock().turn.iter().any(|&t| may_start(t))
    }

    pub fn len(&self) -> usize {
        self.lock().len
    }

    /// Blocks until something is queued or `timeout` passed.
    pub fn wait_for_work(&self, timeout: std::time::Duration) {
        let queues = self.lock();
        if queues.len == 0 {
            let _ = self.queued.wait_timeout(queues, timeout);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queues> {
        self.queues.lock().unwrap_or_else(|e| e.into_inner())
    }
}
