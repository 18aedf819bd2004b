//! The runtime: a pool of worker threads, each with many invocations in flight, behind
//! one bound on invocations in flight per server.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread;

use serde_json::Value;
use tokio::sync::oneshot;

use crate::compile::Deployment;
use crate::error::RuntimeError;
use crate::fetch::Fetcher;
use crate::gate::Gate;
use crate::host::Host;
use crate::invocation::{ActionError, ConsoleLine, ErrorCode, Invocation};
use crate::limits::{RuntimeLimits, RuntimeOptions, DEFAULT_MAX_INFLIGHT};
use crate::memory::MemoryBudget;
use crate::sandbox::{compile_sdk, Finished, Job, Services};
use crate::validate::check_args;
use crate::worker::{Event, Queued, Worker, WorkerHandle};

/// Native stack beyond the JavaScript stack limit, for QuickJS and Rust frames.
const NATIVE_STACK_HEADROOM: usize = 4 << 20;

/// Runs actions. Cheap to share behind an `Arc`; dropping it stops the workers once the
/// invocations in flight are done.
pub struct Runtime {
    workers_handles: Vec<WorkerHandle>,
    next: std::sync::atomic::AtomicUsize,
    gate: Arc<Gate>,
    limits: RuntimeLimits,
    workers: usize,
    pub(crate) memory: Arc<MemoryBudget>,
}

impl Runtime {
    /// Starts one worker per CPU. Must be called inside a tokio runtime.
    pub fn new(limits: RuntimeLimits) -> Result<Self, RuntimeError> {
        Self::with_options(RuntimeOptions {
            limits,
            ..RuntimeOptions::default()
        })
    }

    /// Starts a runtime as `options` say. Must be called inside a tokio runtime.
    pub fn with_options(options: RuntimeOptions) -> Result<Self, RuntimeError> {
        let tokio = tokio::runtime::Handle::try_current().map_err(|_| RuntimeError::NoTokio)?;
        let fetcher = Fetcher::new(&options).map_err(|e| RuntimeError::Http(e.to_string()))?;
        let limits = options.limits;
        let workers = match options.workers {
            0 => thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        };
        let max_inflight = match options.max_inflight {
            0 => DEFAULT_MAX_INFLIGHT,
            n => n,
        };
        let memory = Arc::new(MemoryBudget::new(
            options.memory_budget_bytes,
            options.memory_per_extension_bytes,
        ));
        let services = Arc::new(Services {
            fetcher: Arc::new(fetcher),
            tokio,
            limits: limits.clone(),
            memory: memory.clone(),
        });
        // Compiled once; every invocation's context loads the bytecode.
        let sdk = compile_sdk().map_err(|e| RuntimeError::Thread(e.to_string()))?;
        // The channels are unbounded: the gate bounds what can be queued.
        let mut handles = Vec::with_capacity(workers);
        for n in 0..workers {
            let (handle, rx) = Worker::channel();
            let worker_handle = handle.clone();
            let (services, sdk) = (services.clone(), sdk.clone());
            thread::Builder::new()
                .name(format!("lumio-js-{n}"))
                .stack_size(limits.stack_bytes + NATIVE_STACK_HEADROOM)
                .spawn(move || Worker::new(&worker_handle, rx, services, sdk).run())
                .map_err(|e| RuntimeError::Thread(e.to_string()))?;
            handles.push(handle);
        }
        Ok(Self {
            workers_handles: handles,
            next: Default::default(),
            gate: Gate::new(max_inflight),
            limits,
            workers,
            memory,
        })
    }

    /// The limits every invocation runs under.
    pub fn limits(&self) -> &RuntimeLimits {
        &self.limits
    }

    /// Number of worker threads.
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// Hands an invocation to the least loaded worker (ties in turn).
    fn dispatch(&self, queued: Queued) -> Result<(), ()> {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let n = self.workers_handles.len();
        let chosen = (0..n)
            .map(|i| &self.workers_handles[(start + i) % n])
            .min_by_key(|w| w.load.rank())
            .ok_or(())?;
        chosen.load.queued();
        chosen
            .tx
            .send(Event::Job(queued))
            .map_err(|_| chosen.load.unqueued())
    }

    /// Invocations in flight now (queued, running or parked).
    pub fn in_flight(&self) -> usize {
        self.gate.in_flight()
    }

    /// Invocations handed to a worker and not yet started (for metrics).
    pub fn queued(&self) -> usize {
        self.workers_handles.iter().map(|w| w.load.waiting()).sum()
    }

    /// Most invocations in flight at once.
    pub fn max_inflight(&self) -> usize {
        self.gate.max()
    }

    /// Runs `action` (`module:export`) of `deployment` with `args` in a fresh context, for
    /// the extension `tenant` (whose share of the memory budget it is charged to).
    ///
    /// Arguments are checked against the action's validators first. If the action read a
    /// secret, the result and console output are released only after
    /// `host.audit_durable` succeeded; otherwise the invocation fails with
    /// `audit_unavailable` and the value is dropped.
    pub async fn invoke(
        &self,
        tenant: Arc<str>,
        deployment: Arc<Deployment>,
        action: &str,
        args: Value,
        host: Arc<dyn Host>,
    ) -> Invocation {
        // Unknown actions are answered like a missing extension: no list of what exists.
        let Some(info) = deployment.action(action) else {
            return Invocation::failed(ActionError::new(
                ErrorCode::NotFound,
                format!("no action {action:?} is deployed here; deploy with `lumio deploy` and call it as module:export"),
            ));
        };
        if let Err(message) = check_args(&info.args, &args) {
            return Invocation::failed(ActionError::new(ErrorCode::InvalidArgs, message));
        }
        let args = if args.is_null() {
            Value::Object(Default::default())
        } else {
            args
        };
        let Some(permit) = self.gate.try_enter() else {
            return Invocation::failed(ActionError::new(
                ErrorCode::Overloaded,
                format!(
                    "the server already has {} invocations in flight; retry shortly",
                    self.gate.max()
                ),
            ));
        };
        let (reply, finished) = oneshot::channel();
        let grants = info.grants.clone();
        let job = Job {
            module: info.module.clone(),
            export: info.export.clone(),
            grants,
            args_json: args.to_string(),
            host: host.clone(),
            action: action.to_owned(),
            deployment,
            tenant,
        };
        if self.dispatch(Queued { job, reply, permit }).is_err() {
            return Invocation::failed(ActionError::new(
                ErrorCode::Internal,
                "the action runtime has stopped",
            ));
        }
        let Ok(finished) = finished.await else {
            return Invocation::failed(ActionError::new(
                ErrorCode::Internal,
                "the action runtime failed while running this action",
            ));
        };
        release(finished, host.as_ref()).await
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        for worker in &self.workers_handles {
            let _ = worker.tx.send(Event::Shutdown);
        }
    }
}

/// Waits for the audit records of the invocation's reads; only then lets its output go.
async fn release(finished: Finished, host: &dyn Host) -> Invocation {
    let mut invocation = finished.invocation;
    let Some(ticket) = finished.durable_up_to else {
        cancel(finished.in_flight);
        return invocation;
    };
    let durable = host.audit_durable(ticket).await;
    // Fetches still open are cut only now: when they are cut says nothing of the action.
    cancel(finished.in_flight);
    if let Err(err) = durable {
        invocation.result = Err(ActionError::new(
            ErrorCode::AuditUnavailable,
            err.to_string(),
        ));
        invocation.console = vec![ConsoleLine::withheld()];
        invocation.stack = None;
    }
    invocation
}

fn cancel(fetches: Vec<tokio::task::AbortHandle>) {
    for fetch in fetches {
        fetch.abort();
    }
}
