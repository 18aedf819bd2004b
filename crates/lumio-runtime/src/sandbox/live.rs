//! One invocation in flight: its own QuickJS runtime and context, driven by its worker
//! until the handler's promise settles. While it awaits host I/O (a fetch, a timer) it is
//! parked: the worker runs others and comes back when the I/O finishes.
//!
//! An invocation runs in a [`WarmContext`] of its deployment, which other invocations of
//! the same deployment parked on I/O may share. Only one runs at a time (the worker is one
//! thread); its CPU clock, wall deadline, grants, console, timers and fetches are its own
//! ([`super::current::Current`] routes the natives to the running one). When it ends
//! cleanly the context goes on serving the deployment; otherwise it takes no new work.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use lumio_qjs_bytecode::TrustedBytecode;
use rquickjs::function::This;
use rquickjs::{Ctx, Function, Module, Object, Persistent, Promise, Value};

use super::clock::Clock;
use super::errors::read_thrown;
use super::natives;
use super::quickjs::{
    caught, cpu_timeout, internal, out_of_budget, out_of_memory_or_null, wall_timeout, Failure,
};
use super::state::{FetchDone, InvocationState, Services, Waker};
use super::timers;
use super::warm::WarmContext;
use crate::compile::Deployment;
use crate::host::Host;
use crate::invocation::{ActionError, ErrorCode};
use crate::leak_guard::GuardCache;

/// What a caller asked to run.
pub struct Job {
    pub deployment: Arc<Deployment>,
    pub module: String,
    pub export: String,
    pub args_json: String,
    pub host: Arc<dyn Host>,
    /// The action's name (`functions:charge`), for error messages.
    pub action: String,
    /// The extension the invocation belongs to: whose share of slots, CPU and memory it uses.
    pub tenant: Arc<str>,
    /// What `ctx.secrets.get` may read: the grants the deploy-time probe found
    /// (`None`: every secret of the extension and environment).
    pub grants: Option<Arc<[lumio_core::SecretName]>>,
}

/// Where an invocation stands after the worker ran it for a while.
pub enum Progress {
    /// Awaiting host I/O: resume it when that finishes or at [`Live::next_wakeup`].
    Parked,
    /// The handler settled (or the invocation was stopped).
    Done(Result<serde_json::Value, Failure>),
}

enum Step {
    /// The entry module's top-level code is running; then the handler is called.
    Importing,
    /// The handler returned a promise; its value is the result.
    Running,
}

/// An invocation in flight. Field order is drop order: JavaScript handles before the
/// context they live in.
pub struct Live {
    promise: Option<Persistent<Promise<'static>>>,
    js_ctx: Option<Persistent<Object<'static>>>,
    step: Step,
    pub(super) state: Rc<InvocationState>,
    warm: Rc<WarmContext>,
    pub(super) clock: Rc<Clock>,
    job: Job,
    pub(super) started: Instant,
    wall_deadline: Instant,
    /// Something only a broken runtime does happened (an exception escaped a job): its
    /// context is not reused.
    broken: std::cell::Cell<bool>,
    /// Set when it ended without hitting a limit: its context may take new work.
    ended_clean: std::cell::Cell<bool>,
}

impl Live {
    /// Starts the invocation in `warm` (a context of its deployment with room) or else in
    /// a new context, and starts loading its module.
    pub fn new(
        job: Job,
        services: &Arc<Services>,
        sdk: &Rc<TrustedBytecode>,
        waker: Waker,
        warm: Option<Rc<WarmContext>>,
        guards: &Rc<RefCell<GuardCache>>,
    ) -> Result<Self, Failure> {
        let started = Instant::now();
        let limits = &services.limits;
        let clock = Rc::new(Clock::new(limits.cpu_time));
        let warm = match warm {
            Some(warm) => warm,
            None => Rc::new(WarmContext::new(
                &job.tenant,
                &job.deployment,
                services,
                sdk,
            )?),
        };
        // From here on, dropping the invocation leaves the context (see `Drop`).
        warm.join(services)?;
        let state = Rc::new(InvocationState::new(
            job.host.clone(),
            super::state::Grants {
                action: job.action.clone(),
                names: job.grants.clone(),
            },
            services.clone(),
            waker,
            job.args_json.clone(),
            guards.clone(),
            warm.seen.clone(),
        ));
        let mut live = Self {
            promise: None,
            js_ctx: None,
            step: Step::Importing,
            state,
            warm,
            clock,
            job,
            started,
            wall_deadline: started + limits.wall_time,
            broken: std::cell::Cell::new(false),
            ended_clean: std::cell::Cell::new(false),
        };
        live.enter();
        let context = live.warm.context.clone();
        let begun = context.with(|ctx| live.begin(&ctx));
        match begun {
            // The worker drives it next, at once: its CPU clock runs on.
            Ok(()) => {
                live.warm.current.leave();
                Ok(live)
            }
            Err(failure) => {
                live.leave();
                Err(live.classify(failure))
            }
        }
    }

    /// The worker starts (or resumes) running this invocation's JavaScript (its CPU
    /// clock may still be running from the step before).
    fn enter(&self) {
        self.warm.current.enter(&self.state, &self.clock);
        self.clock.enter();
    }

    /// The worker stops running it: for good when it is done, except that its CPU clock
    /// runs on into `conclude` (the leak guard's scan is charged to it), or until its
    /// I/O finishes when it parked. Reading the thread's CPU clock is a system call, so
    /// it is read only where a stretch of running really ends.
    fn leave_after(&self, progress: &Progress) {
        if matches!(progress, Progress::Parked) {
            self.clock.leave();
        }
        self.warm.current.leave();
    }

    fn leave(&self) {
        self.clock.leave();
        self.warm.current.leave();
    }

    fn begin(&mut self, ctx: &Ctx<'_>) -> Result<(), Failure> {
        let js_ctx =
            natives::ctx_object(ctx, &self.warm.current).map_err(|e| self.caught(ctx, e))?;
        self.js_ctx = Some(Persistent::save(ctx, js_ctx));
        let promise =
            Module::import(ctx, self.job.module.as_str()).map_err(|e| self.caught(ctx, e))?;
        self.watch(ctx, &promise).map_err(|e| self.caught(ctx, e))?;
        self.promise = Some(Persistent::save(ctx, promise));
        Ok(())
    }

    /// Tells the worker when `promise` settles during another invocation's turn (through
    /// a promise both await), so that this one is looked at then, not at its next I/O.
    fn watch<'js>(&self, ctx: &Ctx<'js>, promise: &Promise<'js>) -> rquickjs::Result<()> {
        let current = self.warm.current.clone();
        let waker = self.state.waker.clone();
        let mark = Function::new(ctx.clone(), move || {
            if current.running_slot() != Some(waker.slot) {
                let _ = waker.tx.send(crate::worker::Event::Settled(waker.slot));
            }
        })?;
        let then: Function = promise.then()?;
        then.call::<_, Value>((This(promise.clone()), mark.clone(), mark))?;
        Ok(())
    }

    /// Runs the invocation until it settles or parks.
    pub fn drive(&mut self) -> Progress {
        self.enter();
        let progress = self.advance();
        self.leave_after(&progress);
        self.out_of_memory_if_null(progress)
    }

    /// A fetch of this invocation finished: settle its promise and go on.
    pub fn on_fetch(&mut self, done: FetchDone) -> Progress {
        self.enter();
        let context = self.warm.context.clone();
        let settled = context.with(|ctx| {
            natives::finish_fetch(&ctx, &self.state, done).map_err(|e| self.caught(&ctx, e))
        });
        let progress = match settled {
            Ok(_) => self.advance(),
            Err(failure) => Progress::Done(Err(failure)),
        };
        self.leave_after(&progress);
        self.out_of_memory_if_null(progress)
    }

    /// Its time came: stop it at the wall-time limit, or run the timers that are due.
    pub fn on_time(&mut self, now: Instant) -> Progress {
        if now >= self.wall_deadline {
            return Progress::Done(Err(wall_timeout(&self.state.services.limits)));
        }
        self.enter();
        let progress = self.run_due_timers(now);
        self.leave_after(&progress);
        self.out_of_memory_if_null(progress)
    }

    /// QuickJS throws a bare `null` when memory runs out while it builds the error
    /// object itself, and by the time the invocation ends its memory is freed, so the two
    /// cannot be told apart afterwards. Either way the runtime is retired, and the caller
    /// is told both possibilities rather than a bare "null".
    fn out_of_memory_if_null(&self, progress: Progress) -> Progress {
        match progress {
            Progress::Done(Err(failure)) => Progress::Done(Err(self.classify(failure))),
            other => other,
        }
    }

    fn classify(&self, failure: Failure) -> Failure {
        // Out of memory because the extension's or the server's budget refused, not the
        // invocation's own limit: say so.
        if let Some(refusal) = self.warm.meter.refused() {
            let out_of_memory = match &failure {
                Failure::Stopped(error) => error.code == ErrorCode::OutOfMemory,
                Failure::Thrown(thrown) => {
                    thrown.error.code == ErrorCode::OutOfMemory || thrown.is_bare_null()
                }
            };
            if out_of_memory {
                return out_of_budget(refusal);
            }
        }
        match &failure {
            Failure::Thrown(thrown) if thrown.is_bare_null() => {
                self.broken.set(true);
                out_of_memory_or_null(&self.state.services.limits)
            }
            _ => failure,
        }
    }

    /// When the worker must look at this invocation again even without I/O finishing.
    pub fn next_wakeup(&self) -> Instant {
        match self.state.next_timer_due() {
            Some(due) => due.min(self.wall_deadline),
            None => self.wall_deadline,
        }
    }

    /// The arguments the caller sent, as JSON.
    pub(super) fn args_json(&self) -> &str {
        &self.job.args_json
    }

    fn run_due_timers(&mut self, now: Instant) -> Progress {
        while let Some((id, timer)) = self.state.take_due_timer(now) {
            let context = self.warm.context.clone();
            let fired = context.with(|ctx| {
                timers::fire(&ctx, &self.state, id, timer).map_err(|e| self.caught(&ctx, e))
            });
            if let Err(failure) = fired {
                return Progress::Done(Err(failure));
            }
            // Microtasks queued by the callback run before the next timer, as in Node.js.
            if let Err(failure) = self.drain_jobs() {
                return Progress::Done(Err(failure));
            }
            if self.promise_settled() {
                break;
            }
        }
        self.advance()
    }

    /// Whether its promise has settled (perhaps during another invocation's turn).
    pub fn promise_settled(&self) -> bool {
        let context = self.warm.context.clone();
        context.with(|ctx| {
            self.promise
                .clone()
                .and_then(|p| p.restore(&ctx).ok())
                .is_some_and(|p| p.result::<Value>().is_some())
        })
    }

    fn advance(&mut self) -> Progress {
        loop {
            if let Err(failure) = self.drain_jobs() {
                return Progress::Done(Err(failure));
            }
            let context = self.warm.context.clone();
            match context.with(|ctx| self.poll(&ctx)) {
                Poll::Settled(result) => return Progress::Done(result),
                Poll::Again => continue,
                Poll::Pending => {}
            }
            if !self.state.has_pending_io() {
                return Progress::Done(Err(never_settles()));
            }
            let no_fetch = self.state.pending.borrow().is_empty();
            let first_timer = self.state.next_timer_due();
            if no_fetch && first_timer.is_some_and(|due| due > self.wall_deadline) {
                return Progress::Done(Err(timer_too_late(&self.state.services.limits)));
            }
            return Progress::Parked;
        }
    }

    /// Runs this invocation's microtasks (its context runs no one else's meanwhile).
    fn drain_jobs(&self) -> Result<(), Failure> {
        let limits = &self.state.services.limits;
        loop {
            match self.warm.rt.execute_pending_job() {
                Ok(true) if self.clock.fired() => return Err(cpu_timeout(limits)),
                Ok(true) => {}
                Ok(false) => return Ok(()),
                // Only what a script cannot catch escapes a job: the interrupt, or memory.
                Err(exception) => {
                    self.broken.set(true);
                    if self.clock.fired() {
                        return Err(cpu_timeout(limits));
                    }
                    let thrown = exception
                        .0
                        .with(|ctx| read_thrown(&ctx.catch(), &self.job.deployment.modules));
                    return Err(Failure::Thrown(thrown));
                }
            }
        }
    }

    fn poll(&mut self, ctx: &Ctx<'_>) -> Poll {
        let Some(promise) = self.promise.clone() else {
            return Poll::Settled(Err(internal(&"no promise to wait for")));
        };
        let promise = match promise.restore(ctx) {
            Ok(promise) => promise,
            Err(e) => return Poll::Settled(Err(internal(&e))),
        };
        let value = match promise.result::<Value>() {
            None => return Poll::Pending,
            Some(Err(e)) => return Poll::Settled(Err(self.caught(ctx, e))),
            Some(Ok(value)) => value,
        };
        match self.step {
            Step::Running => Poll::Settled(self.to_json(ctx, value)),
            Step::Importing => match self.call_handler(ctx, value) {
                Err(failure) => Poll::Settled(Err(failure)),
                Ok(value) => match value.into_promise() {
                    Some(promise) => {
                        if let Err(e) = self.watch(ctx, &promise) {
                            return Poll::Settled(Err(self.caught(ctx, e)));
                        }
                        self.promise = Some(Persistent::save(ctx, promise));
                        self.step = Step::Running;
                        Poll::Again
                    }
                    None => Poll::Settled(Err(internal(&"unreachable"))),
                },
            },
        }
    }

    /// Calls the handler with `ctx` and the arguments; a plain return value is wrapped in
    /// a resolved promise so that both paths end the same way.
    fn call_handler<'js>(
        &mut self,
        ctx: &Ctx<'js>,
        namespace: Value<'js>,
    ) -> Result<Value<'js>, Failure> {
        let namespace = namespace
            .into_object()
            .ok_or_else(|| internal(&"a module namespace is not an object"))?;
        let Some(js_ctx) = self.js_ctx.take() else {
            return Err(internal(&"the handler was called twice"));
        };
        let caught = |e| self.caught(ctx, e);
        let js_ctx = js_ctx.restore(ctx).map_err(caught)?;
        let action: Object = namespace.get(self.job.export.as_str()).map_err(caught)?;
        let handler: Function = action.get("handler").map_err(caught)?;
        let args = ctx.json_parse(self.job.args_json.clone()).map_err(caught)?;
        let value: Value = handler.call((js_ctx, args)).map_err(caught)?;
        if value.is_promise() {
            return Ok(value);
        }
        let (promise, resolve, _) = ctx.promise().map_err(caught)?;
        resolve.call::<_, ()>((value,)).map_err(caught)?;
        Ok(promise.into_value())
    }

    fn to_json<'js>(
        &self,
        ctx: &Ctx<'js>,
        value: Value<'js>,
    ) -> Result<serde_json::Value, Failure> {
        let caught = |e| self.caught(ctx, e);
        let json = ctx.json_stringify(value).map_err(caught)?;
        let Some(text) = json.map(|s| s.to_string()).transpose().map_err(caught)? else {
            return Ok(serde_json::Value::Null); // undefined or a function
        };
        let max = self.state.services.limits.max_result_bytes;
        if text.len() > max {
            return Err(Failure::Stopped(ActionError::new(
                ErrorCode::LimitExceeded,
                format!(
                    "the return value is {} bytes of JSON; the limit is {max} bytes",
                    text.len()
                ),
            )));
        }
        serde_json::from_str(&text).map_err(|e| {
            Failure::Stopped(ActionError::new(
                ErrorCode::ActionError,
                format!("the return value is not JSON: {e}"),
            ))
        })
    }

    fn caught(&self, ctx: &Ctx<'_>, error: rquickjs::Error) -> Failure {
        caught(
            ctx,
            &self.clock,
            &self.state.services.limits,
            error,
            &self.job.deployment.modules,
        )
    }
}

impl Live {
    /// Ends the invocation and hands back its context, which goes on serving the
    /// deployment if the invocation ended cleanly (no limit hit, nothing broken).
    pub fn finish(self, clean: bool) -> Rc<WarmContext> {
        self.ended_clean
            .set(clean && !self.clock.fired() && !self.broken.get());
        let warm = self.warm.clone();
        drop(self);
        warm
    }

    /// The context it runs in.
    pub fn warm(&self) -> &Rc<WarmContext> {
        &self.warm
    }
}

impl Live {
    /// Ends an invocation nobody waits for any more (its caller disconnected). The reads
    /// it made (and those its grants refused) are still recorded: every read is accounted
    /// for, answered or not. Its context takes no new work (what the invocation left
    /// there is not known to be settled).
    pub fn abandon(self) {
        if let Err(err) = self
            .state
            .record_reads()
            .and_then(|()| self.state.record_denied())
        {
            tracing::warn!(%err, extension = %self.job.tenant, action = %self.job.action, "could not record the reads of an abandoned invocation");
        }
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        // Every JavaScript value held from Rust must go before the runtime does.
        self.promise = None;
        self.js_ctx = None;
        for fetch in self.state.release_js() {
            fetch.abort();
        }
        self.warm.leave(self.ended_clean.get());
    }
}

enum Poll {
    Settled(Result<serde_json::Value, Failure>),
    /// The step changed (the module loaded, the handler was called): look again.
    Again,
    Pending,
}

fn never_settles() -> Failure {
    Failure::Stopped(ActionError::new(
        ErrorCode::ActionError,
        "the action's promise never settled: it awaits something that never happens (no fetch or timer is pending)",
    ))
}

fn timer_too_late(limits: &crate::limits::RuntimeLimits) -> Failure {
    Failure::Stopped(ActionError::new(
        ErrorCode::Timeout,
        format!(
            "the action waits for a timer due after its wall-time limit of {} s",
            limits.wall_time.as_secs_f64()
        ),
    ))
}
