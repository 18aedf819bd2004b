//! Fair CPU between extensions. A run of JavaScript cannot be preempted (QuickJS can
//! only be interrupted, which ends the invocation), so fairness is kept two ways:
//!
//! - **Long runs are capped per extension.** A run (one step of one invocation: until it
//!   settles or parks) that has gone on for more than [`LONG_RUN`] is *long*. While an
//!   extension has `long_run_cap` long runs on workers and another extension has work
//!   waiting, its next invocations wait and its parked ones resume later: a busy-looping
//!   extension holds at most that many cores, however many calls it gets. Alone on the
//!   server, it may use every worker.
//! - **A stuck pool grows.** When every worker is in a long run and an extension below
//!   its cap has work queued, the watchdog starts an extra worker thread for it, and the
//!   kernel shares the cores between that thread and the long runs. Extra workers take
//!   only what the cap allows (never a capped extension's work) and end when idle.
//!
//! A parked invocation resumes on the worker that started it (its QuickJS runtime is tied
//! to that thread), so it may wait for a long run on that worker to end.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, OnceLock, RwLock, Weak};
use std::time::{Duration, Instant};

use crate::run_queue::{RunQueue, TenantId};
use crate::worker::Event;

/// A run longer than this counts against its extension's cap of long runs. Short
/// enough that a victim waits little once busy loops are capped; long enough that an
/// ordinary action (sub-millisecond to a few milliseconds per run) never counts.
pub(crate) const LONG_RUN: Duration = Duration::from_millis(10);

/// How long an extra worker stays without work before it ends.
pub(crate) const EXTRA_IDLE: Duration = Duration::from_secs(10);

/// What a worker is doing, for the scheduler's decisions.
#[derive(Default)]
pub(crate) struct Load {
    /// When the current run started (nanoseconds since [`now_nanos`]'s epoch); 0: none.
    run_started: AtomicU64,
    /// The tenant of the current run.
    tenant: AtomicU64,
    /// Blocked on its channel, waiting for an event.
    idle: AtomicBool,
}

impl Load {
    pub fn begin(&self, tenant: TenantId) {
        self.tenant.store(tenant, Ordering::Release);
        self.run_started
            .store(now_nanos().max(1), Ordering::Release);
    }

    pub fn end(&self) {
        self.run_started.store(0, Ordering::Release);
    }

    pub fn set_idle(&self, idle: bool) {
        self.idle.store(idle, Ordering::SeqCst);
    }

    /// The tenant of a run that has lasted past [`LONG_RUN`].
    fn long_run(&self, now: u64) -> Option<TenantId> {
        let started = self.run_started.load(Ordering::Acquire);
        let long = started != 0 && now.saturating_sub(started) > LONG_RUN.as_nanos() as u64;
        long.then(|| self.tenant.load(Ordering::Acquire))
    }

    /// Takes the idle mark, so that two callers do not both wake this worker.
    fn claim_idle(&self) -> bool {
        self.idle
            .compare_exchange(true, false, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    }
}

/// A worker as the rest of the runtime sees it.
#[derive(Clone)]
pub(crate) struct WorkerHandle {
    pub tx: mpsc::Sender<Event>,
    pub load: Arc<Load>,
    pub extra: bool,
}

/// What the runtime's workers share: the run queue, who is running what, the cap.
pub(crate) struct Pool {
    pub queue: RunQueue,
    workers: RwLock<Arc<[WorkerHandle]>>,
    /// Long runs an extension may have at once while others wait.
    pub long_run_cap: usize,
    max_workers: usize,
    threads: AtomicUsize,
    pub stopping: AtomicBool,
}

impl Pool {
    pub fn new(primaries: usize) -> Self {
        Self {
            queue: RunQueue::default(),
            workers: RwLock::new(Arc::from(Vec::new())),
            long_run_cap: (primaries / 2).max(1),
            max_workers: primaries * 4,
            threads: AtomicUsize::new(0),
            stopping: AtomicBool::new(false),
        }
    }

    pub fn workers(&self) -> Arc<[WorkerHandle]> {
        self.workers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn register(&self, handle: WorkerHandle) {
        let mut workers = self.workers.write().unwrap_or_else(|e| e.into_inner());
        let mut list = workers.to_vec();
        list.push(handle);
        *workers = Arc::from(list);
        self.threads.fetch_add(1, Ordering::AcqRel);
    }

    pub fn deregister(&self, load: &Arc<Load>) {
        let mut workers = self.workers.write().unwrap_or_else(|e| e.into_inner());
        let list: Vec<_> = workers
            .iter()
            .filter(|w| !Arc::ptr_eq(&w.load, load))
            .cloned()
            .collect();
        *workers = Arc::from(list);
        self.threads.fetch_sub(1, Ordering::AcqRel);
    }

    /// Worker threads alive now, extras included.
    pub fn threads(&self) -> usize {
        self.threads.load(Ordering::Acquire)
    }

    /// Long runs of `tenant` on workers now.
    pub fn long_runs(&self, tenant: TenantId) -> usize {
        let now = now_nanos();
        self.workers()
            .iter()
            .filter(|w| w.load.long_run(now) == Some(tenant))
            .count()
    }

    /// Whether a run of `tenant` may start: below its cap of long runs, or (on a
    /// primary worker) with nobody else waiting.
    pub fn may_start(&self, tenant: TenantId, others_waiting: bool, extra: bool) -> bool {
        self.long_runs(tenant) < self.long_run_cap || (!extra && !others_waiting)
    }

    /// [`Pool::may_start`] for a parked invocation: the run queue is locked only when its
    /// tenant is at its cap (every resumption asks, so the common case stays lock-free).
    pub fn may_resume(&self, tenant: TenantId, extra: bool) -> bool {
        self.long_runs(tenant) < self.long_run_cap || (!extra && !self.queue.others_waiting(tenant))
    }

    /// Wakes one idle worker to take what was just queued. A worker marks itself idle
    /// before it last looks at the queue, so a job is never left with every worker asleep.
    pub fn wake_one(&self) {
        for worker in self.workers().iter() {
            if worker.load.claim_idle() {
                let _ = worker.tx.send(Event::Poke);
                return;
            }
        }
    }

    /// Every worker is in a long run: nobody will take queued work soon.
    fn all_stuck(&self) -> bool {
        let now = now_nanos();
        let workers = self.workers();
        !workers.is_empty() && workers.iter().all(|w| w.load.long_run(now).is_some())
    }

    /// Tells every worker to finish what it has and stop.
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::Release);
        for worker in self.workers().iter() {
            let _ = worker.tx.send(Event::Shutdown);
        }
    }
}

/// Watches for a pool whose every worker is stuck in a long run while an extension below
/// its cap waits, and starts an extra worker then (`spawn`). Ends with the pool.
pub(crate) fn watch(pool: Weak<Pool>, spawn: impl Fn() + Send + 'static) {
    let period = LONG_RUN / 2;
    loop {
        let Some(pool) = pool.upgrade() else { return };
        if pool.stopping.load(Ordering::Acquire) {
            return;
        }
        pool.queue.wait_for_work(Duration::from_millis(200));
        if pool.queue.len() == 0 {
            continue;
        }
        let wanted = pool.all_stuck()
            && pool.threads() < pool.max_workers
            && pool
                .queue
                .any_startable(|tenant| pool.long_runs(tenant) < pool.long_run_cap);
        drop(pool);
        if wanted {
            spawn();
        }
        std::thread::sleep(period);
    }
}

/// Monotonic nanoseconds since the first call.
pub(crate) fn now_nanos() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    let epoch = *EPOCH.get_or_init(Instant::now);
    u64::try_from(epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
}
