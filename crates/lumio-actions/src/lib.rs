//! Actions: deploying an extension's TypeScript and invoking its actions. This crate wires
//! `lumio-runtime` (which knows nothing of stores or tokens) to the secrets service: the
//! [`host::ActionHost`] serves `ctx.secrets.get` through the audited read path, blocked
//! leaks become `leak.blocked` audit records, and each invocation's masked console output
//! and the names it read go to the store's invocation log for `lumio logs`.
//!
//! Architecture Invariant: authorization of management calls (deploy, logs) happens in
//! the secrets service's access checks; invocation is the client plane and needs no token,
//! but can only ever read the invoked extension's secrets of the invoked environment.

mod active;
mod deploy;
mod error;
mod host;
mod invoke;
mod logs;

use std::sync::Arc;

use lumio_runtime::Runtime;
use lumio_secrets::SecretsService;

pub use deploy::{ActionGrants, DeploymentSummary};
pub use error::ActionsError;
pub use invoke::InvokeOutcome;
pub use logs::{
    InvocationLog, LogsPage, LogsRequest, ReadOutcome, SecretRead, DEFAULT_LOG_RETENTION_DAYS,
    KEPT_INVOCATIONS,
};
pub use lumio_runtime::{
    ActionError, ConsoleLine, ErrorCode, LogLevel, RuntimeLimits, RuntimeOptions,
};

/// Deploys and runs actions. Cheap to clone; one per process.
#[derive(Clone)]
pub struct ActionsService {
    inner: Arc<Inner>,
}

struct Inner {
    secrets: SecretsService,
    runtime: Runtime,
    active: Arc<active::ActiveDeployments>,
    logs: logs::writer::LogWriter,
}

impl ActionsService {
    /// Starts the runtime's worker pool. Call inside a tokio runtime.
    pub fn new(secrets: SecretsService, options: RuntimeOptions) -> Result<Self, ActionsError> {
        let runtime =
            Runtime::with_options(options).map_err(|err| ActionsError::Runtime(err.to_string()))?;
        let active = Arc::new(active::ActiveDeployments::default());
        active.follow(secrets.subscribe());
        let logs = logs::writer::LogWriter::spawn(secrets.clone());
        Ok(Self {
            inner: Arc::new(Inner {
                secrets,
                runtime,
                active,
                logs,
            }),
        })
    }
}

impl ActionsService {
    /// Invocations in flight (queued, running or parked) and those of them queued for a
    /// worker: for metrics.
    pub fn runtime_load(&self) -> (usize, usize) {
        let runtime = &self.inner.runtime;
        (runtime.in_flight(), runtime.queued())
    }

    /// Bytes the invocations in flight hold now, and the memory budget: for metrics.
    pub fn runtime_memory(&self) -> (usize, usize) {
        let runtime = &self.inner.runtime;
        (runtime.memory_in_use(), runtime.memory_budget())
    }
}
