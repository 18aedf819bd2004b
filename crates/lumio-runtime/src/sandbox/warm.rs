//! A QuickJS runtime and context kept warm for one deployment of one extension on one
//! worker, as workerd keeps an isolate per script: the SDK and the deployment's modules
//! are loaded and evaluated once, and each invocation only makes its `ctx` and calls
//! its handler.
//!
//! What survives from one invocation to the next is the deployment's own module state
//! (its globals and module-level variables), never anything of another deployment or
//! extension: a context serves exactly one (extension, deployment) pair for its life.
//! Each invocation keeps its own CPU clock, wall deadline, console, timers, fetches and
//! grants ([`Current`] routes the natives to it); the leak guard of every invocation
//! covers every value read in the context ([`SeenValues`]). A context that hit a limit,
//! broke, or left work queued is retired, never reused.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use lumio_qjs_bytecode::deferred::new_context;
use lumio_qjs_bytecode::TrustedBytecode;
use rquickjs::Context;

use super::current::Current;
use super::loader::DeploymentLoader;
use super::meter::RuntimeMeter;
use super::natives;
use super::quickjs::{internal, new_metered_runtime, out_of_budget, Failure};
use super::seen::SeenValues;
use super::state::Services;
use crate::compile::Deployment;

/// Invocations a context runs before it is retired and made afresh: whatever a
/// deployment's globals accumulate is bounded.
const MAX_RUNS: u32 = 10_000;

/// A warm context. Field order is drop order: the context before its runtime.
pub struct WarmContext {
    pub(super) context: Context,
    pub(super) rt: rquickjs::Runtime,
    /// Charges the runtime's allocations to the extension's and the server's budget.
    pub(super) meter: RuntimeMeter,
    pub(super) current: Rc<Current>,
    pub(super) seen: Rc<SeenValues>,
    deployment: Arc<Deployment>,
    tenant: Arc<str>,
    runs: Cell<u32>,
    retired: Cell<bool>,
    last_used: Cell<Instant>,
}

impl WarmContext {
    /// A new context for `deployment` of `tenant`, charged to the tenant's budget from
    /// its first byte, with the globals installed (modules load on first import).
    pub fn new(
        tenant: &Arc<str>,
        deployment: &Arc<Deployment>,
        services: &Arc<Services>,
        sdk: &Rc<TrustedBytecode>,
    ) -> Result<Self, Failure> {
        let limits = &services.limits;
        let meter =
            RuntimeMeter::started(services.memory.account(tenant)).map_err(out_of_budget)?;
        let refused = |e: &dyn std::fmt::Display| match meter.refused() {
            Some(refusal) => out_of_budget(refusal),
            None => internal(e),
        };
        let current = Rc::new(Current::default());
        let rt = new_metered_runtime(limits, &current, meter.clone()).map_err(|e| refused(&e))?;
        let loader = DeploymentLoader {
            modules: deployment.modules.clone(),
            sdk: sdk.clone(),
        };
        rt.set_loader(loader.clone(), loader);
        let context = new_context(&rt).map_err(|e| refused(&e))?;
        context
            .with(|ctx| natives::install_globals(&ctx, &current))
            .map_err(|e| refused(&e))?;
        Ok(Self {
            context,
            rt,
            meter,
            current,
            seen: Rc::default(),
            deployment: deployment.clone(),
            tenant: tenant.clone(),
            runs: Cell::new(1),
            retired: Cell::new(false),
            last_used: Cell::new(Instant::now()),
        })
    }

    /// Whether this context may run an invocation of `deployment` for `tenant`: only
    /// the very deployment (by identity) of the very extension it was made for.
    pub fn serves(&self, tenant: &str, deployment: &Arc<Deployment>) -> bool {
        !self.retired.get() && Arc::ptr_eq(&self.deployment, deployment) && *self.tenant == *tenant
    }

    /// Readies an idle context for its next invocation: charged to its extension again.
    pub fn bind(&self, services: &Services) -> Result<(), Failure> {
        self.runs.set(self.runs.get() + 1);
        self.meter.clear_refusal();
        self.meter
            .bind(services.memory.account(&self.tenant))
            .map_err(out_of_budget)
    }

    /// The invocation ended cleanly: whether the context may run another one, given what
    /// is left in it. If so it is now idle and charged to nobody.
    pub fn park_idle(&self) -> bool {
        let reusable = !self.retired.get()
            && !self.rt.is_job_pending()
            && self.meter.refused().is_none()
            && !self.seen.is_full()
            && self.runs.get() < MAX_RUNS;
        if !reusable {
            self.retire();
            return false;
        }
        self.meter.unbind();
        self.last_used.set(Instant::now());
        true
    }

    /// Never run another invocation here.
    pub fn retire(&self) {
        self.retired.set(true);
    }

    /// When it last finished an invocation.
    pub fn last_used(&self) -> Instant {
        self.last_used.get()
    }
}
