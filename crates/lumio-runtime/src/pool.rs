//! The runtime: a pool of worker threads, each with many invocations in flight, fed by
//! one run queue that serves extensions in turn, behind bounds on invocations in flight
//! per server, per extension and per action.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::{Arc, Weak};
use std::thread;

use lumio_qjs_bytecode::TrustedBytecode;
use serde_json::Value;
use tokio::sync::oneshot;

use crate::compile::Deployment;
use crate::error::RuntimeError;
use crate::fairness::{self, Pool};
use crate::fetch::Fetcher;
use crate::gate::{Full, Gate};
use crate::host::Host;
use crate::invocation::{ActionError, ConsoleLine, ErrorCode, Invocation};
use crate::limits::{RuntimeLimits, RuntimeOptions};
use crate::memory::MemoryBudget;
use crate::run_queue::TenantId;
use crate::sandbox::{compile_sdk, Finished, Job, Services};
use crate::validate::check_args;
use crate::worker::{Queued, Worker};

/// Native stack beyond the JavaScript stack limit, for QuickJS and Rust frames.
const NATIVE_STACK_HEADROOM: usize = 4 << 20;

/// Runs actions. Cheap to share behind an `Arc`; dropping it stops the workers once the
/// invocations in flight are done.
pub struct Runtime {
    pool: Arc<Pool>,
    gate: Arc<Gate>,
    limits: RuntimeLimits,
    workers: usize,
    pub(crate) memory: Arc<MemoryBudget>,
    /// Keyed per process, so extension names cannot be chosen to share a tenant id.
    tenant_ids: RandomState,
}

/// What a worker thread needs to be started.
#[derive(Clone)]
struct Spawner {
    pool: Weak<Pool>,
    services: Arc<Services>,
    sdk: TrustedBytecode,
    stack: usize,
}

impl Spawner {
    fn spawn(&self, name: String, extra: bool) -> Result<(), RuntimeError> {
        let Some(pool) = self.pool.upgrade() else {
            return Ok(());
        };
        let (handle, rx) = Worker::channel(extra);
        let (services, sdk) = (self.services.clone(), self.sdk.clone());
        pool.register(handle.clone());
        let load = handle.load.clone();
        let worker_pool = pool.clone();
        thread::Builder::new()
            .name(name)
            .stack_size(self.stack)
            .spawn(move || {
                crate::priority::lower_this_worker();
                Worker::new(&handle, rx, worker_pool, services, sdk).run()
            })
            .map(|_| ())
            .map_err(|e| {
                pool.deregister(&load);
                RuntimeError::Thread(e.to_string())
            })
    }
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
        let bounds = options.bounds();
        let limits = options.limits;
        let workers = match options.workers {
            0 => thread::available_parallelism().map_or(2, |n| n.get()),
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
            idle_trim: options.idle_trim,
        });
        // Compiled once; every invocation's context loads the bytecode.
        let sdk = compile_sdk().map_err(|e| RuntimeError::Thread(e.to_string()))?;
        let pool = Arc::new(Pool::new(workers));
        let spawner = Spawner {
            pool: Arc::downgrade(&pool),
            services,
            sdk,
            stack: limits.stack_bytes + NATIVE_STACK_HEADROOM,
        };
        for n in 0..workers {
            spawner.spawn(format!("lumio-js-{n}"), false)?;
        }
        let watchdog = spawner.clone();
        thread::Builder::new()
            .name("lumio-js-watch".into())
            .spawn(move || {
                fairness::watch(watchdog.pool.clone(), move || {
                    if let Err(err) = watchdog.spawn("lumio-js-extra".into(), true) {
                        tracing::warn!(%err, "could not start an extra action worker");
                    }
                })
            })
            .map_err(|e| RuntimeError::Thread(e.to_string()))?;
        Ok(Self {
            pool,
            gate: Gate::new(bounds),
            limits,
            workers,
            memory,
            tenant_ids: RandomState::new(),
        })
    }

    /// The limits every invocation runs under.
    pub fn limits(&self) -> &RuntimeLimits {
        &self.limits
    }

    /// Number of worker threads started with the runtime (extras come and go).
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// Worker threads alive now, extras the watchdog started included.
    pub fn worker_threads(&self) -> usize {
        self.pool.threads()
    }

    /// Invocations in flight now (queued, running or parked).
    pub fn in_flight(&self) -> usize {
        self.gate.in_flight()
    }

    /// Invocations waiting for a worker (for metrics).
    pub fn queued(&self) -> usize {
        self.pool.queue.len()
    }

    /// Most invocations in flight at once.
    pub fn max_inflight(&self) -> usize {
        self.gate.bounds().server
    }

    /// Most invocations in flight at once for one extension.
    pub fn max_inflight_per_extension(&self) -> usize {
        self.gate.bounds().extension
    }

    fn tenant_id(&self, tenant: &str) -> TenantId {
        self.tenant_ids.hash_one(tenant)
    }

    /// Runs `action` (`module:export`) of `deployment` with `args` in a fresh context, for
    /// the extension `tenant` (whose share of slots, CPU and memory it uses).
    ///
    /// Arguments are checked against the action's validators first. If the action read a
    /// secret, the result and console output are released only after
    /// `host.audit_durable` succeeded; otherwise the invocation fails with
    /// `audit_unavailable` and the value is dropped.
    pub async fn invoke(
        &self,
        tenant: &str,
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
        let tenant: Arc<str> = Arc::from(tenant);
        let permit = match self.gate.try_enter(&tenant, action) {
            Ok(permit) => permit,
            Err(full) => return Invocation::failed(overloaded(full, action)),
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
            tenant: tenant.clone(),
        };
        let tenant = self.tenant_id(&tenant);
        self.pool.queue.push(
            tenant,
            Queued {
                job,
                tenant,
                reply,
                permit,
            },
        );
        self.pool.wake_one();
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
        self.pool.stop();
    }
}

fn overloaded(full: Full, action: &str) -> ActionError {
    let message = match full {
        Full::Server(max) => {
            format!("the server already has {max} invocations in flight; retry shortly")
        }
        Full::Extension(max) => format!(
            "this extension already has {max} invocations in flight (its share of the server); retry shortly"
        ),
        Full::Action(max) => format!(
            "{action} already has {max} invocations in flight (its share of the extension's); retry shortly"
        ),
    };
    ActionError::new(ErrorCode::Overloaded, message)
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
