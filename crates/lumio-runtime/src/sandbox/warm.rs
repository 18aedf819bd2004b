//! A QuickJS runtime and context kept warm for one deployment of one extension on one
//! worker, as workerd keeps an isolate per script: the SDK and the deployment's modules
//! are loaded and evaluated once, and each invocation only makes its `ctx` and calls
//! its handler. Invocations parked on I/O share it: up to [`MAX_SHARED`] are in flight in
//! one context (only one runs at a time: the worker is one thread), so a parked
//! invocation costs its own promises and closures, not a heap of its own.
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

/// Most invocations in flight in one context at once.
pub const MAX_SHARED: u32 = 256;

/// Heap beyond which an idle context is collected before its next invocation, so that an
/// earlier invocation's garbage does not count against the next one's limit.
const COLLECT_ABOVE: usize = 4 << 20;

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
    /// Invocations started here and not yet finished.
    in_flight: Cell<u32>,
    retired: Cell<bool>,
    last_used: Cell<Instant>,
    /// The per-invocation memory limit; the runtime's is that times `in_flight`.
    memory_per_invocation: usize,
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
            runs: Cell::new(0),
            in_flight: Cell::new(0),
            retired: Cell::new(false),
            last_used: Cell::new(Instant::now()),
            memory_per_invocation: limits.memory_bytes,
        })
    }

    /// Whether this context may run an invocation of `deployment` for `tenant`: only
    /// the very deployment (by identity) of the very extension it was made for.
    pub fn serves(&self, tenant: &str, deployment: &Arc<Deployment>) -> bool {
        !self.retired.get() && Arc::ptr_eq(&self.deployment, deployment) && *self.tenant == *tenant
    }

    /// Whether another invocation may start here now: not retired, not full, and (when
    /// others are in flight) holding little, so that one invocation's large heap is not
    /// what the next one shares.
    pub fn has_room(&self) -> bool {
        let in_flight = self.in_flight.get();
        !self.retired.get()
            && in_flight < MAX_SHARED
            && (in_flight == 0 || self.meter.used() < self.memory_per_invocation / 4)
    }

    pub fn in_flight(&self) -> u32 {
        self.in_flight.get()
    }

    /// An invocation starts here. An idle context is charged to its extension again
    /// first; the runtime's memory limit grows by one invocation's.
    pub fn join(&self, services: &Services) -> Result<(), Failure> {
        if self.in_flight.get() == 0 {
            self.meter.clear_refusal();
            self.meter
                .bind(services.memory.account(&self.tenant))
                .map_err(out_of_budget)?;
            if self.meter.used() > COLLECT_ABOVE {
                self.rt.run_gc();
            }
        }
        self.in_flight.set(self.in_flight.get() + 1);
        self.runs.set(self.runs.get() + 1);
        self.set_memory_limit();
        Ok(())
    }

    /// An invocation that started here ended (`clean`: without hitting a limit or
    /// breaking anything). True if the context is now idle and may run the deployment's
    /// next invocation; it is then charged to nobody.
    pub fn leave(&self, clean: bool) -> bool {
        let in_flight = self.in_flight.get().saturating_sub(1);
        self.in_flight.set(in_flight);
        if !clean {
            self.retire();
        }
        if in_flight > 0 {
            self.set_memory_limit();
            return false;
        }
        let reusable = !self.retired.get()
            && !self.rt.is_job_pending()
            && self.meter.refused().is_none()
            && !self.seen.is_full()
            && self.runs.get() < MAX_RUNS;
        if !reusable {
            self.retire();
            return false;
        }
        self.set_memory_limit();
        self.meter.unbind();
        self.last_used.set(Instant::now());
        true
    }

    /// One invocation's limit per invocation in flight (at least one's).
    fn set_memory_limit(&self) {
        let share = u64::from(self.in_flight.get().max(1));
        let limit = (self.memory_per_invocation as u64).saturating_mul(share);
        self.rt
            .set_memory_limit(usize::try_from(limit).unwrap_or(usize::MAX));
    }

    /// Never start another invocation here (those in flight finish).
    pub fn retire(&self) {
        self.retired.set(true);
    }

    pub fn is_retired(&self) -> bool {
        self.retired.get()
    }

    /// When it last finished an invocation.
    pub fn last_used(&self) -> Instant {
        self.last_used.get()
    }
}

impl Drop for WarmContext {
    fn drop(&mut self) {
        // An invocation that panicked mid-run may still be set as running: its state (and
        // any JavaScript handle it holds) goes before the context and the runtime do.
        self.current.leave();
    }
}
