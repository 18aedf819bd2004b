//! One worker thread: many invocations in flight, one running at a time. An invocation
//! runs until its handler settles or it awaits host I/O; then it is parked and the worker
//! takes what is next: I/O that finished (fetch results are sent to its channel), a timer
//! or deadline that is due, or a new invocation from the shared run queue (extensions in
//! turn, see `run_queue.rs` and `fairness.rs`). Invocations whose caller has gone are
//! ended.
//!
//! No async runtime runs on this thread: a blocking `Host::secret_get` (a cache miss)
//! stays allowed, and a parked invocation costs only its QuickJS heap.

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use lumio_qjs_bytecode::TrustedBytecode;
use tokio::sync::oneshot;

use crate::fairness::{Load, Pool, WorkerHandle, EXTRA_IDLE};
use crate::gate::Permit;
use crate::invocation::{ActionError, ErrorCode};
use crate::leak_guard::GuardCache;
use crate::run_queue::TenantId;
use crate::sandbox::{conclude, FetchDone, Finished, Job, Live, Progress, Services, Wake, Waker};
use crate::warm_pool::WarmPool;

/// An invocation waiting for a worker.
pub(crate) struct Queued {
    pub job: Job,
    pub tenant: TenantId,
    pub reply: oneshot::Sender<Finished>,
    pub permit: Permit,
}

/// What a worker's channel carries.
pub(crate) enum Event {
    /// Something was queued: look at the run queue.
    Poke,
    Wake(Wake),
    /// An invocation's promise settled during another's turn (they awaited one promise):
    /// look at it now.
    Settled(u64),
    /// The runtime was dropped: finish what is in flight, then stop.
    Shutdown,
}

/// An invocation in flight on this worker.
struct Slot {
    live: Live,
    tenant: TenantId,
    reply: oneshot::Sender<Finished>,
    /// When the wakeup heap will next look at it (`None`: no entry).
    wakeup: Option<Instant>,
    _permit: Permit,
}

/// Why a parked invocation is to run again.
enum Resume {
    Fetch(FetchDone),
    Due,
}

pub(crate) struct Worker {
    rx: mpsc::Receiver<Event>,
    tx: mpsc::Sender<Event>,
    load: Arc<Load>,
    /// An extra worker the watchdog started: takes only what the cap allows, ends idle.
    extra: bool,
    pool: Arc<Pool>,
    services: Arc<Services>,
    sdk: Rc<TrustedBytecode>,
    slots: HashMap<u64, Slot>,
    next_slot: u64,
    wakeups: BinaryHeap<Reverse<(Instant, u64)>>,
    /// Resumptions held back while their extension is at its cap of long runs.
    deferred: Vec<(u64, Resume)>,
    /// When slots whose caller has gone were last looked for.
    swept: Instant,
    /// Contexts clean invocations left behind, for their deployments' next ones.
    warm: WarmPool,
    /// Leak-guard matchers built for recent invocations, by the values they read.
    guards: Rc<RefCell<GuardCache>>,
}

/// How long a worker is idle after work (or after idle contexts expired) before it calls
/// [`Services::idle_trim`].
const IDLE_TRIM: Duration = Duration::from_secs(1);

/// How often a worker looks for invocations whose caller has gone.
const SWEEP_EVERY: Duration = Duration::from_millis(250);

/// How soon a worker looks again at resumptions it held back.
const DEFERRED_TICK: Duration = Duration::from_millis(2);

impl Worker {
    /// A worker's channel and handle; the worker itself is made on its thread.
    pub fn channel(extra: bool) -> (WorkerHandle, mpsc::Receiver<Event>) {
        let (tx, rx) = mpsc::channel();
        let handle = WorkerHandle {
            tx,
            load: Arc::default(),
            extra,
        };
        (handle, rx)
    }

    pub fn new(
        handle: &WorkerHandle,
        rx: mpsc::Receiver<Event>,
        pool: Arc<Pool>,
        services: Arc<Services>,
        sdk: TrustedBytecode,
    ) -> Self {
        Self {
            rx,
            tx: handle.tx.clone(),
            load: handle.load.clone(),
            extra: handle.extra,
            pool,
            services,
            sdk: Rc::new(sdk),
            slots: HashMap::new(),
            next_slot: 0,
            wakeups: BinaryHeap::new(),
            deferred: Vec::new(),
            swept: Instant::now(),
            warm: WarmPool::default(),
            guards: Rc::default(),
        }
    }

    /// Serves until the runtime is dropped and every invocation in flight has ended (an
    /// extra worker: until it has been idle for [`EXTRA_IDLE`]).
    pub fn run(mut self) {
        let mut accepting = true;
        let mut idle_since = Instant::now();
        // Whether the allocator was given back what this thread holds since its last work.
        let mut trimmed = true;
        loop {
            // What already happened first: finished I/O, due timers, held-back resumptions.
            while let Ok(event) = self.rx.try_recv() {
                accepting &= self.handle(event);
            }
            self.on_due(Instant::now());
            self.retry_deferred();
            self.sweep_abandoned();
            if self.warm.expire(Instant::now()) {
                trimmed = false; // their heaps went back to the allocator: trim it
            }
            if !accepting && self.slots.is_empty() {
                self.pool.deregister(&self.load);
                return;
            }
            // Then one new invocation, if the run queue has one this worker may start.
            if self.take_queued() {
                idle_since = Instant::now();
                trimmed = false;
                continue;
            }
            // Nothing to do: mark idle, look once more, then sleep until an event.
            self.load.set_idle(true);
            if self.take_queued() {
                self.load.set_idle(false);
                idle_since = Instant::now();
                trimmed = false;
                continue;
            }
            if !trimmed && self.slots.is_empty() && idle_since.elapsed() >= IDLE_TRIM {
                if let Some(trim) = self.services.idle_trim {
                    trim();
                }
                trimmed = true;
            }
            if self.extra && self.slots.is_empty() && idle_since.elapsed() >= EXTRA_IDLE {
                self.pool.deregister(&self.load);
                if self.pool.queue.len() > 0 {
                    self.pool.wake_one();
                }
                return;
            }
            let wait = self.sleep_for(idle_since, trimmed);
            let event = self.rx.recv_timeout(wait);
            self.load.set_idle(false);
            match event {
                Ok(event) => {
                    accepting &= self.handle(event);
                    idle_since = Instant::now();
                    trimmed = false;
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            }
        }
    }

    /// How long to sleep when there is nothing to do.
    fn sleep_for(&self, idle_since: Instant, trimmed: bool) -> Duration {
        let now = Instant::now();
        let mut until = match self.wakeups.peek() {
            Some(&Reverse((at, _))) => at,
            None => now + Duration::from_secs(3600),
        };
        if !self.deferred.is_empty() {
            until = until.min(now + DEFERRED_TICK);
        }
        if let Some(expiry) = self.warm.next_expiry() {
            until = until.min(expiry);
        }
        if !self.slots.is_empty() {
            until = until.min(self.swept + SWEEP_EVERY);
        }
        if self.slots.is_empty() {
            if !trimmed {
                until = until.min(idle_since + IDLE_TRIM);
            }
            if self.extra {
                until = until.min(idle_since + EXTRA_IDLE);
            }
        }
        until.saturating_duration_since(now)
    }

    /// `false` once told to stop accepting work.
    fn handle(&mut self, event: Event) -> bool {
        match event {
            Event::Poke => true,
            Event::Wake(wake) => {
                self.resume(wake.slot, Resume::Fetch(wake.done));
                true
            }
            Event::Settled(slot) => {
                if self
                    .slots
                    .get(&slot)
                    .is_some_and(|s| s.live.promise_settled())
                {
                    self.resume(slot, Resume::Due);
                }
                true
            }
            Event::Shutdown => false,
        }
    }

    fn take_queued(&mut self) -> bool {
        let extra = self.extra;
        let pool = self.pool.clone();
        let queued = pool
            .queue
            .pop(|tenant, others| pool.may_start(tenant, others, extra));
        match queued {
            Some(queued) => {
                self.start(queued);
                true
            }
            None => false,
        }
    }

    fn start(&mut self, queued: Queued) {
        let Queued {
            job,
            tenant,
            reply,
            permit,
        } = queued;
        if reply.is_closed() {
            return; // the caller has gone: nothing is read, nothing is recorded
        }
        let slot = self.next_slot;
        self.next_slot += 1;
        let waker = Waker {
            slot,
            tx: self.tx.clone(),
        };
        let warm = self.warm.take(&job.tenant, &job.deployment);
        self.load.begin(tenant);
        let started =
            guarded(|| Live::new(job, &self.services, &self.sdk, waker, warm, &self.guards));
        let mut live = match started {
            Some(Ok(live)) => {
                self.warm.add(live.warm());
                live
            }
            Some(Err(failure)) => {
                self.load.end();
                drop(permit);
                let error = match failure {
                    crate::sandbox::Failure::Stopped(error) => error,
                    crate::sandbox::Failure::Thrown(thrown) => thrown.error,
                };
                let _ = reply.send(Finished::failed(error));
                return;
            }
            None => {
                self.load.end();
                drop(permit);
                let _ = reply.send(Finished::failed(crashed()));
                return;
            }
        };
        let progress = guarded(|| live.drive());
        self.load.end();
        self.slots.insert(
            slot,
            Slot {
                live,
                tenant,
                reply,
                wakeup: None,
                _permit: permit,
            },
        );
        self.settle(slot, progress);
    }

    /// Runs a parked invocation again, unless its extension is at its cap of long runs
    /// (then it is held back and tried again shortly).
    fn resume(&mut self, slot: u64, resume: Resume) {
        let Some(entry) = self.slots.get(&slot) else {
            return; // it ended already (its result came too late)
        };
        if entry.reply.is_closed() {
            self.abandon(slot);
            return;
        }
        let tenant = entry.tenant;
        if !self.pool.may_resume(tenant, self.extra) {
            self.deferred.push((slot, resume));
            return;
        }
        self.load.begin(tenant);
        let Some(entry) = self.slots.get_mut(&slot) else {
            self.load.end();
            return;
        };
        let progress = guarded(|| match resume {
            Resume::Fetch(done) => entry.live.on_fetch(done),
            Resume::Due => entry.live.on_time(Instant::now()),
        });
        self.load.end();
        self.settle(slot, progress);
    }

    fn retry_deferred(&mut self) {
        if self.deferred.is_empty() {
            return;
        }
        for (slot, resume) in std::mem::take(&mut self.deferred) {
            self.resume(slot, resume);
        }
    }

    fn on_due(&mut self, now: Instant) {
        while let Some(&Reverse((at, slot))) = self.wakeups.peek() {
            if at > now {
                return;
            }
            self.wakeups.pop();
            let Some(entry) = self.slots.get_mut(&slot) else {
                continue;
            };
            if entry.wakeup != Some(at) {
                continue; // superseded by an earlier entry
            }
            entry.wakeup = None;
            self.resume(slot, Resume::Due);
        }
    }

    /// Ends the invocations whose caller has gone (the client disconnected): their
    /// timers and fetches are dropped and their slots freed rather than held until the
    /// wall-time limit.
    fn sweep_abandoned(&mut self) {
        if self.swept.elapsed() < SWEEP_EVERY {
            return;
        }
        self.swept = Instant::now();
        let gone: Vec<u64> = self
            .slots
            .iter()
            .filter(|(_, slot)| slot.reply.is_closed())
            .map(|(id, _)| *id)
            .collect();
        for slot in gone {
            self.abandon(slot);
        }
    }

    /// Drops an invocation nobody waits for; the reads it made are still recorded.
    fn abandon(&mut self, slot: u64) {
        if let Some(entry) = self.slots.remove(&slot) {
            guarded(|| entry.live.abandon());
        }
    }

    /// Parks the invocation (registering when to look at it again) or delivers its result.
    /// `None`: the runtime panicked while running it.
    fn settle(&mut self, slot: u64, progress: Option<Progress>) {
        let Some(entry) = self.slots.get_mut(&slot) else {
            return;
        };
        match progress {
            Some(Progress::Parked) => {
                let next = entry.live.next_wakeup();
                if entry.wakeup.is_none_or(|at| next < at) {
                    entry.wakeup = Some(next);
                    self.wakeups.push(Reverse((next, slot)));
                }
            }
            Some(Progress::Done(result)) => {
                let Some(entry) = self.slots.remove(&slot) else {
                    return;
                };
                let Slot {
                    live,
                    reply,
                    _permit: permit,
                    ..
                } = entry;
                let finished = conclude(&live, result, &mut self.guards.borrow_mut());
                // The slot is free before the caller hears: a caller calling again at once
                // must find it free.
                drop(permit);
                let clean = !matches!(
                    &finished.invocation.result,
                    Err(e) if matches!(e.code, ErrorCode::Timeout | ErrorCode::OutOfMemory | ErrorCode::StackOverflow | ErrorCode::Internal)
                );
                let _ = reply.send(finished);
                // After the caller has its reply: the context waits for the deployment's
                // next invocation if that is safe, or is freed.
                if let Some(warm) = guarded(|| live.finish(clean)) {
                    self.warm.released(&warm);
                }
            }
            None => {
                if let Some(entry) = self.slots.remove(&slot) {
                    let _ = entry.reply.send(Finished::failed(crashed()));
                }
            }
        }
    }
}

/// Runs `f`, turning a panic into `None`: one broken invocation must not take the worker
/// (and every invocation parked on it) down.
fn guarded<T>(f: impl FnOnce() -> T) -> Option<T> {
    catch_unwind(AssertUnwindSafe(f)).ok()
}

fn crashed() -> ActionError {
    ActionError::new(
        ErrorCode::Internal,
        "the action runtime failed while running this action",
    )
}
