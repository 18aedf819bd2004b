//! One worker thread: many invocations in flight, one running at a time. An invocation
//! runs until its handler settles or it awaits host I/O; then it is parked and the worker
//! takes the next event from its channel: I/O that finished (fetch results are sent
//! here), a new invocation, or the wall-clock moment a timer or deadline is due.
//!
//! No async runtime runs on this thread: a blocking `Host::secret_get` (a cache miss)
//! stays allowed, and a parked invocation costs only its QuickJS heap.

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Instant;

use lumio_qjs_bytecode::TrustedBytecode;
use tokio::sync::oneshot;

use crate::gate::Permit;
use crate::invocation::{ActionError, ErrorCode};
use crate::leak_guard::GuardCache;
use crate::sandbox::{conclude, Finished, Job, Live, Progress, Services, Wake, Waker};

/// An invocation waiting for a worker.
pub(crate) struct Queued {
    pub job: Job,
    pub reply: oneshot::Sender<Finished>,
    pub permit: Permit,
}

/// What a worker's channel carries.
pub(crate) enum Event {
    Job(Queued),
    Wake(Wake),
    /// The runtime was dropped: finish what is in flight, then stop.
    Shutdown,
}

/// The dispatcher's view of a worker: where to send, and how much it has to do.
#[derive(Clone)]
pub(crate) struct WorkerHandle {
    pub tx: mpsc::Sender<Event>,
    pub load: Arc<Load>,
}

/// How busy a worker is. New invocations go to the worker with the fewest queued, then to
/// the one that has been running its current work the shortest: a worker stuck in a
/// long computation is not handed new work while another has just finished.
#[derive(Default)]
pub(crate) struct Load {
    /// Invocations sent and not yet started.
    queued: AtomicUsize,
    /// When it started what it is running (nanoseconds since [`epoch`]); 0 while idle.
    busy_since: AtomicU64,
}

impl Load {
    pub fn queued(&self) {
        self.queued.fetch_add(1, Ordering::AcqRel);
    }

    pub fn unqueued(&self) {
        self.queued.fetch_sub(1, Ordering::AcqRel);
    }

    /// Invocations sent to this worker and not yet started.
    pub fn waiting(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    /// The dispatcher's ranking: lower is less loaded.
    pub fn rank(&self) -> (usize, u64) {
        let since = self.busy_since.load(Ordering::Acquire);
        let busy_for = if since == 0 {
            0
        } else {
            now_nanos().saturating_sub(since)
        };
        (self.queued.load(Ordering::Acquire), busy_for)
    }

    fn busy(&self) {
        self.busy_since.store(now_nanos().max(1), Ordering::Release);
    }

    fn idle(&self) {
        self.busy_since.store(0, Ordering::Release);
    }
}

fn now_nanos() -> u64 {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    let epoch = *EPOCH.get_or_init(Instant::now);
    u64::try_from(epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// An invocation in flight on this worker.
struct Slot {
    live: Live,
    reply: oneshot::Sender<Finished>,
    /// When the wakeup heap will next look at it (`None`: no entry).
    wakeup: Option<Instant>,
    _permit: Permit,
}

pub(crate) struct Worker {
    rx: mpsc::Receiver<Event>,
    tx: mpsc::Sender<Event>,
    load: Arc<Load>,
    services: Arc<Services>,
    sdk: Rc<TrustedBytecode>,
    slots: HashMap<u64, Slot>,
    next_slot: u64,
    wakeups: BinaryHeap<Reverse<(Instant, u64)>>,
    /// Runtimes clean invocations left behind, for the next ones.
    spare: Vec<rquickjs::Runtime>,
    /// Leak-guard matchers built for recent invocations, by the values they read.
    guards: Rc<RefCell<GuardCache>>,
}

/// Spare runtimes a worker keeps: enough for bursts, few enough to hold little memory.
const SPARE_RUNTIMES: usize = 4;

impl Worker {
    /// A worker's channel and load counter; the worker itself is made on its thread.
    pub fn channel() -> (WorkerHandle, mpsc::Receiver<Event>) {
        let (tx, rx) = mpsc::channel();
        let handle = WorkerHandle {
            tx,
            load: Arc::default(),
        };
        (handle, rx)
    }

    pub fn new(
        handle: &WorkerHandle,
        rx: mpsc::Receiver<Event>,
        services: Arc<Services>,
        sdk: TrustedBytecode,
    ) -> Self {
        Self {
            rx,
            tx: handle.tx.clone(),
            load: handle.load.clone(),
            services,
            sdk: Rc::new(sdk),
            slots: HashMap::new(),
            next_slot: 0,
            wakeups: BinaryHeap::new(),
            spare: Vec::new(),
            guards: Rc::default(),
        }
    }

    /// Serves until the runtime is dropped and every invocation in flight has ended.
    pub fn run(mut self) {
        let mut accepting = true;
        loop {
            self.on_due(Instant::now());
            if !accepting && self.slots.is_empty() {
                return;
            }
            self.load.idle();
            let event = match self.wakeups.peek() {
                Some(&Reverse((at, _))) => {
                    let wait = at.saturating_duration_since(Instant::now());
                    match self.rx.recv_timeout(wait) {
                        Ok(event) => event,
                        Err(mpsc::RecvTimeoutError::Timeout) => continue,
                        Err(mpsc::RecvTimeoutError::Disconnected) => return,
                    }
                }
                None => match self.rx.recv() {
                    Ok(event) => event,
                    Err(_) => return,
                },
            };
            self.load.busy();
            match event {
                Event::Job(queued) => {
                    self.load.unqueued();
                    self.start(queued);
                }
                Event::Wake(wake) => self.on_wake(wake),
                Event::Shutdown => accepting = false,
            }
        }
    }

    fn start(&mut self, queued: Queued) {
        let Queued { job, reply, permit } = queued;
        if reply.is_closed() {
            return; // the caller has gone: nothing is read, nothing is recorded
        }
        let slot = self.next_slot;
        self.next_slot += 1;
        let waker = Waker {
            slot,
            tx: self.tx.clone(),
        };
        let recycled = self.spare.pop();
        let started = guarded(|| {
            Live::new(
                job,
                &self.services,
                &self.sdk,
                waker,
                recycled,
                &self.guards,
            )
        });
        let mut live = match started {
            Some(Ok(live)) => live,
            Some(Err(failure)) => {
                let error = match failure {
                    crate::sandbox::Failure::Stopped(error) => error,
                    crate::sandbox::Failure::Thrown(thrown) => thrown.error,
                };
                let _ = reply.send(Finished::failed(error));
                return;
            }
            None => {
                let _ = reply.send(Finished::failed(crashed()));
                return;
            }
        };
        let progress = guarded(|| live.drive());
        self.slots.insert(
            slot,
            Slot {
                live,
                reply,
                wakeup: None,
                _permit: permit,
            },
        );
        self.settle(slot, progress);
    }

    fn on_wake(&mut self, wake: Wake) {
        let Some(entry) = self.slots.get_mut(&wake.slot) else {
            return; // it ended already (its result came too late)
        };
        if entry.reply.is_closed() {
            self.slots.remove(&wake.slot);
            return;
        }
        let progress = guarded(|| entry.live.on_fetch(wake.done));
        self.settle(wake.slot, progress);
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
            let progress = guarded(|| entry.live.on_time(now));
            self.settle(slot, progress);
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
                let Slot { live, reply, .. } = entry;
                let finished = conclude(&live, result, &mut self.guards.borrow_mut());
                let clean = !matches!(
                    &finished.invocation.result,
                    Err(e) if matches!(e.code, ErrorCode::Timeout | ErrorCode::OutOfMemory | ErrorCode::StackOverflow | ErrorCode::Internal)
                );
                let _ = reply.send(finished);
                // The invocation's context is freed here, after the caller has its reply;
                // its runtime is kept for the next invocation only if that is safe.
                if let Some(rt) = guarded(|| live.recycle(clean)).flatten() {
                    if self.spare.len() < SPARE_RUNTIMES {
                        self.spare.push(rt);
                    }
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
