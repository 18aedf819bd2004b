//! One QuickJS runtime per worker thread; a fresh context per invocation. The runtime
//! carries the limits (memory, stack, interrupt-driven CPU time) and the SDK's bytecode;
//! the context carries all JavaScript state. It is dropped at the end of the invocation
//! and its objects are collected after the reply has gone.

use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::Instant;

use lumio_qjs_bytecode::TrustedBytecode;
use rquickjs::context::intrinsic::{
    Date, Eval, Json, MapSet, Promise as PromiseIntrinsic, Proxy, RegExp, RegExpCompiler,
    TypedArrays, WeakRef,
};
use rquickjs::{Context, Ctx, Function, Module, Object, Promise, Value};

use super::clock::Clock;
use super::errors::{read_thrown, Thrown};
use super::loader::{CompileOnlyLoader, DeploymentLoader, SDK_JS};
use super::natives;
use super::state::{FetchDone, InvocationState};
use crate::compile::resolve::SDK_SPECIFIER;
use crate::compile::CompiledModule;
use crate::invocation::{ActionError, ErrorCode};
use crate::limits::RuntimeLimits;

/// Why an invocation stopped without a value.
pub enum Failure {
    /// JavaScript threw (or a limit it hit surfaced as a throw).
    Thrown(Thrown),
    /// The runtime stopped it (time), or it could not finish.
    Stopped(ActionError),
}

impl From<ActionError> for Failure {
    fn from(error: ActionError) -> Self {
        Failure::Stopped(error)
    }
}

/// An action to run, resolved against its deployment.
pub struct Entry<'a> {
    pub modules: &'a Arc<BTreeMap<String, CompiledModule>>,
    pub module: &'a str,
    pub export: &'a str,
    pub args_json: String,
}

/// An `action(...)` export found at deploy.
pub struct FoundAction {
    pub module: String,
    pub export: String,
    pub args_json: String,
}

/// What `run` produced.
pub struct RunOutput {
    pub result: Result<serde_json::Value, Failure>,
    /// The engine hit a hard limit; the worker replaces it before the next invocation.
    pub poisoned: bool,
}

/// The language an action gets: everything of ECMAScript that needs no host, without
/// `performance` (a high-resolution timer is of no use to an action and only a side
/// channel) and `DOMException`. Fewer intrinsics make every fresh context cheaper.
type Intrinsics = (
    Date,
    Eval,
    RegExpCompiler,
    RegExp,
    Json,
    Proxy,
    MapSet,
    TypedArrays,
    PromiseIntrinsic,
    WeakRef,
);

/// Allocation volume after which QuickJS collects on its own. Above what a no-op
/// invocation allocates, so collection happens once, after the context is dropped, not
/// while the next one is being built; far below the memory limit, so garbage an action
/// makes is still collected before the limit is reached.
const GC_THRESHOLD_MAX: usize = 4 << 20;

/// A QuickJS runtime with the limits applied.
pub struct Engine {
    rt: rquickjs::Runtime,
    clock: Rc<Clock>,
    limits: RuntimeLimits,
    sdk: Rc<TrustedBytecode>,
}

impl Engine {
    pub fn new(limits: &RuntimeLimits) -> rquickjs::Result<Self> {
        let rt = rquickjs::Runtime::new()?;
        rt.set_memory_limit(limits.memory_bytes);
        rt.set_max_stack_size(limits.stack_bytes);
        // Compiled once per worker; every invocation's context reads the bytecode.
        let sdk = Context::custom::<Intrinsics>(&rt)?
            .with(|ctx| TrustedBytecode::compile_module(&ctx, SDK_SPECIFIER, SDK_JS))?;
        let clock = Rc::new(Clock::default());
        let interrupt = clock.clone();
        rt.set_interrupt_handler(Some(Box::new(move || interrupt.check())));
        let engine = Self {
            rt,
            clock,
            limits: limits.clone(),
            sdk: Rc::new(sdk),
        };
        engine.rt.set_gc_threshold(engine.gc_threshold());
        Ok(engine)
    }

    fn gc_threshold(&self) -> usize {
        GC_THRESHOLD_MAX.min(self.limits.memory_bytes / 4)
    }

    /// Compiles a module's JavaScript to bytecode (at deploy); on failure, why.
    pub fn compile_module(&self, name: &str, js: &str) -> Result<TrustedBytecode, String> {
        self.rt.set_loader(CompileOnlyLoader, CompileOnlyLoader);
        let context = Context::custom::<Intrinsics>(&self.rt).map_err(|e| e.to_string())?;
        let result = context.with(|ctx| {
            TrustedBytecode::compile_module(&ctx, name, js).map_err(|error| {
                if !error.is_exception() {
                    return error.to_string();
                }
                let thrown = ctx.catch();
                let text = |key: &str| {
                    thrown
                        .as_object()
                        .and_then(|o| o.get::<_, Option<String>>(key).ok().flatten())
                };
                match (text("message"), text("stack")) {
                    (Some(message), Some(stack)) => format!("{message}\n{stack}"),
                    (Some(message), None) => message,
                    _ => "the module does not compile".to_owned(),
                }
            })
        });
        drop(context);
        self.collect();
        result
    }

    /// Runs one action in a fresh context.
    pub fn run(
        &self,
        entry: &Entry<'_>,
        state: &Rc<InvocationState>,
        done_rx: &Receiver<FetchDone>,
    ) -> RunOutput {
        let result = self.in_fresh_context(entry.modules, |ctx| {
            let js_ctx =
                natives::install(ctx, state).map_err(|e| self.caught(ctx, e, entry.modules))?;
            let wall_deadline = Instant::now() + self.limits.wall_time;
            self.clock.start(self.limits.cpu_time);
            let waiter = Waiter {
                state,
                done_rx,
                wall_deadline,
            };
            let result = self.call_action(ctx, entry, js_ctx, &waiter);
            self.clock.stop();
            state.abandon_fetches();
            result
        });
        let poisoned = match &result {
            Err(Failure::Stopped(e)) => e.code == ErrorCode::Timeout,
            Err(Failure::Thrown(t)) => {
                matches!(
                    t.error.code,
                    ErrorCode::OutOfMemory | ErrorCode::StackOverflow
                )
            }
            Ok(_) => false,
        };
        RunOutput {
            result,
            poisoned: poisoned || self.clock.fired(),
        }
    }

    /// Loads every module once and returns its exported actions; on failure, the module
    /// being loaded and why.
    pub fn discover(
        &self,
        modules: &Arc<BTreeMap<String, CompiledModule>>,
    ) -> Result<Vec<FoundAction>, (String, Failure)> {
        let mut current = String::new();
        let result = self.in_fresh_context(modules, |ctx| {
            let silent = "globalThis.console = { log() {}, info() {}, debug() {}, warn() {}, error() {} };";
            ctx.eval::<(), _>(silent).map_err(|e| self.caught(ctx, e, modules))?;
            let probe: Function = ctx
                .eval("(v) => v !== null && typeof v === 'object' && v[Symbol.for('lumio.action/v1')] === true ? JSON.stringify(v.args) : undefined")
                .map_err(|e| self.caught(ctx, e, modules))?;
            self.clock.start(self.limits.cpu_time);
            let mut found = Vec::new();
            for name in modules.keys() {
                current.clone_from(name);
                let namespace = self.import(ctx, name, modules, None)?;
                for export in namespace.keys::<String>() {
                    let export = export.map_err(|e| self.caught(ctx, e, modules))?;
                    let value: Value = namespace.get(&export).map_err(|e| self.caught(ctx, e, modules))?;
                    let args: Option<String> = probe.call((value,)).map_err(|e| self.caught(ctx, e, modules))?;
                    if let Some(args) = args {
                        found.push(FoundAction { module: name.clone(), export, args_json: args });
                    }
                }
            }
            self.clock.stop();
            Ok(found)
        });
        self.collect();
        result.map_err(|failure| (current, failure))
    }

    fn in_fresh_context<T>(
        &self,
        modules: &Arc<BTreeMap<String, CompiledModule>>,
        f: impl FnOnce(&Ctx<'_>) -> Result<T, Failure>,
    ) -> Result<T, Failure> {
        let loader = DeploymentLoader {
            modules: modules.clone(),
            sdk: self.sdk.clone(),
        };
        self.rt.set_loader(loader.clone(), loader);
        let context = Context::custom::<Intrinsics>(&self.rt).map_err(|e| internal(&e))?;
        let result = context.with(|ctx| f(&ctx));
        // Unreachable from here on; its objects are freed by the next `collect`.
        drop(context);
        result
    }

    /// Frees the dropped contexts. A context's objects are cyclic (constructor <->
    /// prototype), so only a collection frees them. Workers call this after replying and
    /// before taking the next job: off the caller's path, yet memory stays flat.
    pub fn collect(&self) {
        self.rt.run_gc();
        // QuickJS moves the threshold after a collection it started itself; put it back.
        self.rt.set_gc_threshold(self.gc_threshold());
    }

    fn call_action<'js>(
        &self,
        ctx: &Ctx<'js>,
        entry: &Entry<'_>,
        js_ctx: Object<'js>,
        waiter: &Waiter<'_>,
    ) -> Result<serde_json::Value, Failure> {
        let caught = |e| self.caught(ctx, e, entry.modules);
        let namespace = self.import(ctx, entry.module, entry.modules, Some(waiter))?;
        let action: Object = namespace.get(entry.export).map_err(caught)?;
        let handler: Function = action.get("handler").map_err(caught)?;
        let args = ctx.json_parse(entry.args_json.clone()).map_err(caught)?;
        let mut value: Value = handler.call((js_ctx, args)).map_err(caught)?;
        if let Some(promise) = value.as_promise() {
            value = self.settle(ctx, promise.clone(), entry.modules, Some(waiter))?;
        }
        let json = ctx.json_stringify(value).map_err(caught)?;
        let text = json.map(|s| s.to_string()).transpose().map_err(caught)?;
        match text {
            None => Ok(serde_json::Value::Null), // undefined or a function
            Some(text) => serde_json::from_str(&text).map_err(|e| {
                Failure::Stopped(ActionError::new(
                    ErrorCode::ActionError,
                    format!("the return value is not JSON: {e}"),
                ))
            }),
        }
    }

    fn import<'js>(
        &self,
        ctx: &Ctx<'js>,
        name: &str,
        modules: &BTreeMap<String, CompiledModule>,
        waiter: Option<&Waiter<'_>>,
    ) -> Result<Object<'js>, Failure> {
        let promise = Module::import(ctx, name).map_err(|e| self.caught(ctx, e, modules))?;
        let namespace = self.settle(ctx, promise, modules, waiter)?;
        namespace
            .into_object()
            .ok_or_else(|| internal(&"a module namespace is not an object"))
    }

    /// Runs the job queue until `promise` settles, completing fetches as they finish.
    fn settle<'js>(
        &self,
        ctx: &Ctx<'js>,
        promise: Promise<'js>,
        modules: &BTreeMap<String, CompiledModule>,
        waiter: Option<&Waiter<'_>>,
    ) -> Result<Value<'js>, Failure> {
        loop {
            while ctx.execute_pending_job() {
                if self.clock.fired() {
                    return Err(self.timeout());
                }
            }
            if self.clock.fired() {
                return Err(self.timeout());
            }
            if let Some(result) = promise.result::<Value>() {
                return result.map_err(|e| self.caught(ctx, e, modules));
            }
            let Some(waiter) = waiter.filter(|w| !w.state.pending.borrow().is_empty()) else {
                return Err(Failure::Stopped(ActionError::new(
                    ErrorCode::ActionError,
                    "the action's promise never settled: it awaits something that never happens (timers are not available)",
                )));
            };
            let Some(left) = waiter.wall_deadline.checked_duration_since(Instant::now()) else {
                return Err(self.wall_timeout());
            };
            self.clock.pause();
            let done = waiter.done_rx.recv_timeout(left);
            self.clock.resume();
            match done {
                Ok(done) => {
                    natives::finish_fetch(ctx, waiter.state, done)
                        .map_err(|e| self.caught(ctx, e, modules))?;
                }
                Err(RecvTimeoutError::Timeout) => return Err(self.wall_timeout()),
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(internal(&"fetch channel closed"))
                }
            }
        }
    }

    /// Reads the pending exception of a failed call.
    fn caught(
        &self,
        ctx: &Ctx<'_>,
        error: rquickjs::Error,
        modules: &BTreeMap<String, CompiledModule>,
    ) -> Failure {
        if self.clock.fired() {
            let _ = ctx.catch();
            return self.timeout();
        }
        if error.is_exception() {
            let thrown = ctx.catch();
            return Failure::Thrown(read_thrown(&thrown, modules));
        }
        match error {
            rquickjs::Error::Allocation => Failure::Stopped(ActionError::new(
                ErrorCode::OutOfMemory,
                "the action used more memory than its limit allows",
            )),
            other => Failure::Stopped(ActionError::new(ErrorCode::ActionError, other.to_string())),
        }
    }

    fn timeout(&self) -> Failure {
        Failure::Stopped(ActionError::new(
            ErrorCode::Timeout,
            format!(
                "the action ran longer than its CPU-time limit of {} ms; look for an endless loop",
                self.limits.cpu_time.as_millis()
            ),
        ))
    }

    fn wall_timeout(&self) -> Failure {
        Failure::Stopped(ActionError::new(
            ErrorCode::Timeout,
            format!(
                "the action did not finish within {} s",
                self.limits.wall_time.as_secs()
            ),
        ))
    }
}

/// What `settle` needs to wait for fetches of a running invocation.
struct Waiter<'a> {
    state: &'a InvocationState,
    done_rx: &'a Receiver<FetchDone>,
    wall_deadline: Instant,
}

fn internal(error: &dyn std::fmt::Display) -> Failure {
    Failure::Stopped(ActionError::new(
        ErrorCode::Internal,
        format!("the action runtime failed: {error}"),
    ))
}
