//! Per-invocation state behind the native functions: secrets read, audit tickets,
//! console output, fetches in flight and timers. Lives on the worker thread and dies with
//! the invocation's QuickJS runtime.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lumio_core::Ticket;
use lumio_core::{CurrentValue, SecretName};
use rquickjs::{Function, Persistent, Value};

use super::seen::SeenValues;
use crate::egress::EgressGuard;
use crate::fetch::{FetchError, FetchResponse, Fetcher};
use crate::host::Host;
use crate::invocation::LogLevel;
use crate::leak_guard::GuardCache;
use crate::limits::RuntimeLimits;

/// What a worker shares with every invocation it runs.
pub struct Services {
    pub fetcher: Arc<Fetcher>,
    pub tokio: tokio::runtime::Handle,
    pub limits: RuntimeLimits,
    /// What the QuickJS heaps of all invocations in flight may hold, per extension and
    /// in total.
    pub memory: Arc<crate::memory::MemoryBudget>,
    /// [`crate::RuntimeOptions::idle_trim`].
    pub idle_trim: Option<fn()>,
}

/// A finished `ctx.fetch`, sent from its tokio task back to the worker.
pub struct FetchDone {
    pub id: u64,
    pub result: Result<FetchResponse, FetchFailure>,
}

/// Why a fetch failed, as the JS error code and message it becomes.
pub enum FetchFailure {
    /// The audit records of earlier reads could not be committed: nothing was sent.
    Audit(String),
    /// Refused or failed.
    Fetch(FetchError),
}

/// Host I/O that finished for a parked invocation: which invocation (its slot on the
/// worker) and what finished.
pub struct Wake {
    pub slot: u64,
    pub done: FetchDone,
}

/// Where an invocation's finished I/O is sent: its worker's event channel.
#[derive(Clone)]
pub struct Waker {
    pub slot: u64,
    pub tx: std::sync::mpsc::Sender<crate::worker::Event>,
}

type Settlers = (Persistent<Function<'static>>, Persistent<Function<'static>>);

/// A `setTimeout`/`setInterval` callback waiting for its time.
pub struct Timer {
    pub due: Instant,
    /// `Some` for `setInterval`.
    pub every: Option<Duration>,
    pub callback: Persistent<Function<'static>>,
    pub args: Vec<Persistent<Value<'static>>>,
}

/// Which secrets an invocation may read. Set in Rust from the deployment's
/// `ActionInfo` before any of the action's JavaScript runs; nothing in the sandbox can
/// reach it.
pub struct Grants {
    /// The invoked action (`functions:charge`).
    pub action: String,
    /// `None`: every secret of the extension and environment.
    pub names: Option<Arc<[SecretName]>>,
}

impl Grants {
    /// Whether `name` may be read.
    pub fn allows(&self, name: &SecretName) -> bool {
        self.names.as_ref().is_none_or(|names| names.contains(name))
    }
}

/// State of one invocation.
pub struct InvocationState {
    pub host: Arc<dyn Host>,
    pub grants: Grants,
    /// Reads refused by the grants, recorded as `secret.denied` when the invocation ends.
    pub denied: RefCell<super::denied::DeniedCounts>,
    pub services: Arc<Services>,
    pub waker: Waker,
    /// Every value read in the invocation's warm context, by this invocation or an
    /// earlier one: the leak guard and the egress checks search for all of them.
    pub seen: Rc<SeenValues>,
    /// The guard `ctx.fetch` checks requests with, built for the values seen by the
    /// generation it names.
    egress: RefCell<Option<(u64, Option<Arc<EgressGuard>>)>>,
    /// The worker's guards by values read: an action that reads the same bound secrets
    /// call after call builds their forms and matcher once.
    guards: Rc<RefCell<GuardCache>>,
    /// The invocation's arguments as JSON: values in them are the caller's own.
    args_json: String,
    /// Ticket of the last `secret.get` record.
    pub last_ticket: Cell<Option<Ticket>>,
    /// Reads not recorded yet, by (name, found), with their count: recorded in one go
    /// before the next fetch starts and when the invocation ends.
    unrecorded: RefCell<Vec<(SecretName, bool, u32)>>,
    /// Whether any read returned a value: only then must egress wait for the audit log.
    pub value_read: Cell<bool>,
    /// How many `secret.denied` records were queued: the output then waits for them too.
    pub denied_records: Cell<u32>,
    pub gets: Cell<u32>,
    pub console: RefCell<Vec<(LogLevel, String)>>,
    console_bytes: Cell<usize>,
    console_cut: Cell<bool>,
    /// Resolve and reject functions of fetches in flight, by id.
    pub pending: RefCell<HashMap<u64, (Settlers, tokio::task::AbortHandle)>>,
    next_fetch: Cell<u64>,
    /// Timers by id (ids are shared by `setTimeout` and `setInterval`, as in browsers).
    pub timers: RefCell<BTreeMap<u32, Timer>>,
    next_timer: Cell<u32>,
    /// (code, message) of errors the platform threw, so a script cannot claim one.
    platform_errors: RefCell<std::collections::HashMap<(String, String), Option<&'static str>>>,
    /// Set when the invocation ends: a fetch still waiting for the audit log then never
    /// goes out.
    pub ended: Arc<AtomicBool>,
}

impl InvocationState {
    pub fn new(
        host: Arc<dyn Host>,
        grants: Grants,
        services: Arc<Services>,
        waker: Waker,
        args_json: String,
        guards: Rc<RefCell<GuardCache>>,
        seen: Rc<SeenValues>,
    ) -> Self {
        Self {
            guards,
            seen,
            host,
            grants,
            denied: RefCell::default(),
            services,
            waker,
            egress: RefCell::default(),
            args_json,
            last_ticket: Cell::new(None),
            unrecorded: RefCell::default(),
            value_read: Cell::new(false),
            denied_records: Cell::new(0),
            gets: Cell::new(0),
            console: RefCell::default(),
            console_bytes: Cell::new(0),
            console_cut: Cell::new(false),
            pending: RefCell::default(),
            next_fetch: Cell::new(0),
            timers: RefCell::default(),
            next_timer: Cell::new(1),
            ended: Arc::default(),
            platform_errors: RefCell::default(),
        }
    }

    /// Counts a read for its audit record.
    pub fn count_read(&self, name: &SecretName, found: bool) {
        let mut unrecorded = self.unrecorded.borrow_mut();
        // The hot path of a read loop: no allocation for a name already counted.
        if let Some((_, _, count)) = unrecorded
            .iter_mut()
            .find(|(n, f, _)| *f == found && n == name)
        {
            *count += 1;
            return;
        }
        unrecorded.push((name.clone(), found, 1));
    }

    /// Enqueues the records of the reads counted since the last time; afterwards
    /// `last_ticket` covers every read so far.
    pub fn record_reads(&self) -> Result<(), crate::host::HostError> {
        let pending = std::mem::take(&mut *self.unrecorded.borrow_mut());
        if pending.is_empty() {
            return Ok(());
        }
        let reads: Vec<crate::host::SecretReads> = pending
            .into_iter()
            .map(|(name, found, count)| crate::host::SecretReads { name, found, count })
            .collect();
        if let Some(ticket) = self.host.record_reads(&reads)? {
            self.last_ticket.set(Some(ticket));
        }
        Ok(())
    }

    /// Enqueues the `secret.denied` records of the reads the grants refused (once, when
    /// the invocation ends: one record per name and invocation); afterwards `last_ticket`
    /// covers them. A fetch does not wait for them: a refused read gave it nothing to carry.
    pub fn record_denied(&self) -> Result<(), crate::host::HostError> {
        let grants = self.grants.names.as_deref().unwrap_or_default();
        let Some(denials) = self.denied.borrow_mut().take(grants) else {
            return Ok(());
        };
        if let Some(ticket) = self.host.record_denied(&denials)? {
            self.note_ticket(ticket);
            self.denied_records.set(denials.records());
        }
        Ok(())
    }

    /// Whether the output must wait for `last_ticket`: a value was read, or refused reads
    /// were recorded.
    pub fn output_waits(&self) -> bool {
        self.value_read.get() || self.denied_records.get() > 0
    }

    /// Makes `last_ticket` cover `ticket` too (tickets grow with the queue).
    pub fn note_ticket(&self, ticket: Ticket) {
        let last = self.last_ticket.get();
        if last.is_none_or(|last| ticket > last) {
            self.last_ticket.set(Some(ticket));
        }
    }

    /// Records a read for the leak guard and, if the secret is bound, for the egress
    /// checks of later fetches (of any invocation in the same context).
    pub fn remember(&self, name: &SecretName, current: &CurrentValue) {
        self.seen.remember(name, current);
    }

    /// The guard for a fetch starting now; `None` when no secret read so far is bound.
    pub fn egress_guard(&self) -> Option<Arc<EgressGuard>> {
        let generation = self.seen.generation();
        let mut egress = self.egress.borrow_mut();
        if let Some((built, guard)) = egress.as_ref() {
            if *built == generation {
                return guard.clone();
            }
        }
        let bound = self.seen.bound();
        let guard = if bound.is_empty() {
            None
        } else {
            let set = self.guards.borrow_mut().set_for(&self.seen.reads());
            EgressGuard::new(set, &bound, &self.args_json).map(Arc::new)
        };
        *egress = Some((generation, guard.clone()));
        guard
    }

    /// Keeps a console line while the invocation's output budget lasts. The line that
    /// crosses the budget is kept whole and later ones are dropped: the cut to the budget
    /// happens after masking (see `sandbox::conclude`), since cutting first could leave a
    /// prefix of a secret's value that masking no longer recognises.
    pub fn log(&self, level: LogLevel, text: String) {
        let used = self.console_bytes.get();
        if used >= self.services.limits.max_console_bytes {
            self.console_cut.set(true);
            return;
        }
        self.console_bytes.set(used + text.len());
        self.console.borrow_mut().push((level, text));
    }

    /// Whether console lines were dropped because the budget was used up.
    pub fn console_cut(&self) -> bool {
        self.console_cut.get()
    }

    pub fn next_fetch_id(&self) -> u64 {
        let id = self.next_fetch.get();
        self.next_fetch.set(id + 1);
        id
    }

    pub fn next_timer_id(&self) -> u32 {
        let id = self.next_timer.get();
        self.next_timer.set(id.wrapping_add(1).max(1));
        id
    }

    /// Remembers an error the platform threw, with its next step if it has one (a few
    /// distinct ones are enough: the same limit error thrown a thousand times is one entry).
    pub fn platform_error(&self, code: &str, message: &str, hint: Option<&'static str>) {
        let mut known = self.platform_errors.borrow_mut();
        if known.len() < 64 {
            known.insert((code.to_owned(), message.to_owned()), hint);
        }
    }

    /// `Some(hint)` if the platform threw an error with this code and message.
    pub fn platform_error_hint(&self, code: &str, message: &str) -> Option<Option<&'static str>> {
        self.platform_errors
            .borrow()
            .get(&(code.to_owned(), message.to_owned()))
            .copied()
    }

    /// Whether host work is under way that may still settle the action's promise.
    pub fn has_pending_io(&self) -> bool {
        !self.pending.borrow().is_empty() || !self.timers.borrow().is_empty()
    }

    /// When the earliest timer is due.
    pub fn next_timer_due(&self) -> Option<Instant> {
        self.timers.borrow().values().map(|t| t.due).min()
    }

    /// Takes the timer that is due first, if it is due by `now` (ties by creation order).
    pub fn take_due_timer(&self, now: Instant) -> Option<(u32, Timer)> {
        let mut timers = self.timers.borrow_mut();
        let (&id, _) = timers
            .iter()
            .filter(|(_, t)| t.due <= now)
            .min_by_key(|(&id, t)| (t.due, id))?;
        timers.remove(&id).map(|timer| (id, timer))
    }

    /// Drops every JavaScript value the state holds, before the context and its runtime
    /// go, and hands back the fetches still in flight (to be cancelled once the audit
    /// records of the reads are settled: cancelling earlier would tell the fetch's server,
    /// by the time it happens, how long the action ran after reading a secret).
    pub fn release_js(&self) -> Vec<tokio::task::AbortHandle> {
        self.ended.store(true, Ordering::Release);
        self.timers.borrow_mut().clear();
        self.pending
            .borrow_mut()
            .drain()
            .map(|(_, (_, abort))| abort)
            .collect()
    }
}
