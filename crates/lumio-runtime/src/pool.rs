//! The worker pool: N OS threads, each owning a QuickJS runtime. Invocations queue on one
//! channel; a worker blocks only its own thread (synchronous `ctx.secrets.get`, waiting for
//! a fetch), never the async callers.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;

use serde_json::Value;
use tokio::sync::oneshot;

use crate::compile::Deployment;
use crate::error::RuntimeError;
use crate::fetch::Fetcher;
use crate::host::Host;
use crate::invocation::{ActionError, ConsoleLine, ErrorCode, Invocation, LogLevel};
use crate::limits::{RuntimeLimits, RuntimeOptions, DEFAULT_QUEUE_CAPACITY};
use crate::sandbox::{self, Engine, Entry, Finished, Services};
use crate::validate::check_args;

/// Native stack beyond the JavaScript stack limit, for QuickJS and Rust frames.
const NATIVE_STACK_HEADROOM: usize = 4 << 20;

struct Job {
    deployment: Arc<Deployment>,
    action: String,
    args_json: String,
    host: Arc<dyn Host>,
    reply: oneshot::Sender<Finished>,
}

/// Runs actions. Cheap to share behind an `Arc`; dropping it stops the workers once the
/// queued invocations are done.
pub struct Runtime {
    jobs: mpsc::SyncSender<Job>,
    queue_capacity: usize,
    limits: RuntimeLimits,
    workers: usize,
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
        let services = Arc::new(Services {
            fetcher: Arc::new(fetcher),
            tokio,
            limits: limits.clone(),
        });
        let queue_capacity = match options.queue_capacity {
            0 => DEFAULT_QUEUE_CAPACITY,
            n => n,
        };
        let (jobs, queue) = mpsc::sync_channel::<Job>(queue_capacity);
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..workers {
            let queue = queue.clone();
            let services = services.clone();
            thread::Builder::new()
                .name(format!("lumio-js-{n}"))
                .stack_size(limits.stack_bytes + NATIVE_STACK_HEADROOM)
                .spawn(move || worker(&queue, &services))
                .map_err(|e| RuntimeError::Thread(e.to_string()))?;
        }
        Ok(Self {
            jobs,
            queue_capacity,
            limits,
            workers,
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

    /// Runs `action` (`module:export`) of `deployment` with `args` in a fresh context.
    ///
    /// Arguments are checked against the action's validators first. If the action read a
    /// secret, the result and console output are released only after
    /// `host.audit_durable` succeeded; otherwise the invocation fails with
    /// `audit_unavailable` and the value is dropped.
    pub async fn invoke(
        &self,
        deployment: Arc<Deployment>,
        action: &str,
        args: Value,
        host: Arc<dyn Host>,
    ) -> Invocation {
        let Some(info) = deployment.action(action) else {
            let known: Vec<&str> = deployment.action_names().collect();
            return Invocation::failed(ActionError::new(
                ErrorCode::NotFound,
                format!(
                    "no action named {action:?}; this deployment has {}",
                    known.join(", ")
                ),
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
        let (reply, finished) = oneshot::channel();
        let job = Job {
            deployment,
            action: action.to_owned(),
            args_json: args.to_string(),
            host: host.clone(),
            reply,
        };
        match self.jobs.try_send(job) {
            Ok(()) => {}
            Err(mpsc::TrySendError::Full(_)) => {
                return Invocation::failed(ActionError::new(
                    ErrorCode::Overloaded,
                    format!(
                        "the server already has {} invocations waiting for a worker; retry shortly",
                        self.queue_capacity
                    ),
                ))
            }
            Err(mpsc::TrySendError::Disconnected(_)) => {
                return Invocation::failed(ActionError::new(
                    ErrorCode::Internal,
                    "the action runtime has stopped",
                ))
            }
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

/// Waits for the audit records of the invocation's reads; only then lets its output go.
async fn release(finished: Finished, host: &dyn Host) -> Invocation {
    let mut invocation = finished.invocation;
    let Some(ticket) = finished.durable_up_to else {
        return invocation;
    };
    if let Err(err) = host.audit_durable(ticket).await {
        invocation.result = Err(ActionError::new(
            ErrorCode::AuditUnavailable,
            err.to_string(),
        ));
        invocation.console = vec![withheld()];
        invocation.stack = None;
    }
    invocation
}

fn withheld() -> ConsoleLine {
    ConsoleLine {
        level: LogLevel::Warn,
        text: "console output withheld: the audit log of this invocation's secret reads could not be committed".into(),
    }
}

fn worker(queue: &Mutex<mpsc::Receiver<Job>>, services: &Arc<Services>) {
    let mut engine: Option<Engine> = None;
    loop {
        // Hold the lock only while taking one job.
        let job = match queue.lock() {
            Ok(queue) => queue.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        let Job {
            deployment,
            action,
            args_json,
            host,
            reply,
        } = job;
        let finished = catch_unwind(AssertUnwindSafe(|| {
            let engine = match &mut engine {
                Some(engine) => engine,
                slot => slot.insert(Engine::new(&services.limits).ok()?),
            };
            let info = deployment.action(&action)?;
            let entry = Entry {
                modules: &deployment.modules,
                module: &info.module,
                export: &info.export,
                args_json,
            };
            Some(sandbox::execute(engine, services, &entry, host))
        }));
        match finished {
            Ok(Some(finished)) => {
                let poisoned = finished.poisoned;
                let _ = reply.send(finished);
                if poisoned {
                    // A runtime that hit a hard limit is replaced, not trusted again.
                    engine = None;
                } else if let Some(engine) = &engine {
                    // Free the invocation's context now that the caller has its reply.
                    engine.collect();
                }
            }
            // A panic or a runtime that could not start: drop it and the reply (the caller
            // reports an internal error), keep serving.
            _ => engine = None,
        }
    }
}
