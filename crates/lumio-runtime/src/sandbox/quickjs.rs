//! What every QuickJS runtime of Lumio shares: the language an action gets, the limits
//! applied to a runtime, and how a failed call becomes a [`Failure`].

use std::collections::BTreeMap;
use std::rc::Rc;

use rquickjs::context::intrinsic::{
    Date, Eval, Json, MapSet, Promise as PromiseIntrinsic, Proxy, RegExp, RegExpCompiler,
    TypedArrays, WeakRef,
};
use rquickjs::Ctx;

use super::clock::Clock;
use super::current::Current;
use super::errors::{read_thrown, Thrown};
use super::meter::RuntimeMeter;
use crate::compile::CompiledModule;
use crate::invocation::{ActionError, ErrorCode};
use crate::limits::RuntimeLimits;
use crate::memory::Refusal;

/// The language an action gets: everything of ECMAScript that needs no host, without
/// `performance` (a high-resolution timer is of no use to an action and only a side
/// channel) and `DOMException`. Compile contexts build it all at once; an invocation's
/// context (`lumio_qjs_bytecode::deferred::new_context`) builds the same set but defers
/// `Date`, `Map`/`Set` and the typed arrays to their first use, since a fresh context's
/// intrinsics are most of what an invocation costs.
pub type Intrinsics = (
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

/// Allocation volume after which QuickJS collects on its own: far below the memory
/// limit, so garbage an action makes is collected before the limit is reached.
const GC_THRESHOLD_MAX: usize = 4 << 20;

/// Why an invocation stopped without a value.
pub enum Failure {
    /// JavaScript threw (or a limit it hit surfaced as a throw).
    Thrown(Thrown),
    /// The runtime stopped it (time, size), or it could not finish.
    Stopped(ActionError),
}

impl From<ActionError> for Failure {
    fn from(error: ActionError) -> Self {
        Failure::Stopped(error)
    }
}

/// A QuickJS runtime with the memory and stack limits applied and `clock` as its
/// interrupt handler.
pub fn new_runtime(
    limits: &RuntimeLimits,
    clock: &Rc<Clock>,
) -> rquickjs::Result<rquickjs::Runtime> {
    let clock = clock.clone();
    limited(rquickjs::Runtime::new()?, limits, move || clock.check())
}

/// As [`new_runtime`], for a warm context: every allocation is charged to `meter` (the
/// memory budget of the extension and of the server) first, and `current` (the
/// invocation running in it) decides when to interrupt.
pub fn new_metered_runtime(
    limits: &RuntimeLimits,
    current: &Rc<Current>,
    meter: RuntimeMeter,
) -> rquickjs::Result<rquickjs::Runtime> {
    let current = current.clone();
    limited(
        lumio_qjs_bytecode::metered::new_metered_runtime(meter)?,
        limits,
        move || current.interrupt(),
    )
}

fn limited(
    rt: rquickjs::Runtime,
    limits: &RuntimeLimits,
    interrupt: impl FnMut() -> bool + 'static,
) -> rquickjs::Result<rquickjs::Runtime> {
    rt.set_memory_limit(limits.memory_bytes);
    rt.set_max_stack_size(limits.stack_bytes);
    rt.set_gc_threshold(GC_THRESHOLD_MAX.min(limits.memory_bytes / 4));
    rt.set_interrupt_handler(Some(Box::new(interrupt)));
    Ok(rt)
}

/// Reads the pending exception of a failed call.
pub fn caught(
    ctx: &Ctx<'_>,
    clock: &Clock,
    limits: &RuntimeLimits,
    error: rquickjs::Error,
    modules: &BTreeMap<String, CompiledModule>,
) -> Failure {
    if clock.fired() {
        let _ = ctx.catch();
        return cpu_timeout(limits);
    }
    if error.is_exception() {
        let thrown = ctx.catch();
        return Failure::Thrown(read_thrown(&thrown, modules));
    }
    match error {
        rquickjs::Error::Allocation => out_of_memory(),
        other => Failure::Stopped(ActionError::new(ErrorCode::ActionError, other.to_string())),
    }
}

pub fn out_of_memory() -> Failure {
    Failure::Stopped(ActionError::new(
        ErrorCode::OutOfMemory,
        "the action used more memory than its limit allows",
    ))
}

/// Out of memory because a shared budget refused, not the invocation's own limit: the
/// caller should know that waiting (for other invocations to end) may help.
pub fn out_of_budget(refusal: Refusal) -> Failure {
    let message = match refusal {
        Refusal::Extension(bytes) => format!(
            "the extension's invocations in flight together used its memory budget of {} MiB on this server; retry when fewer run at once, or hold less memory across awaits",
            bytes >> 20
        ),
        Refusal::Server(bytes) => format!(
            "the server's memory budget for actions ({} MiB, shared by every invocation in flight) is used up; retry shortly",
            bytes >> 20
        ),
    };
    Failure::Stopped(ActionError::new(ErrorCode::OutOfMemory, message))
}

/// A bare `null` escaped the invocation: what QuickJS throws when it cannot allocate
/// even the out-of-memory error, or the action's own `throw null`.
pub fn out_of_memory_or_null(limits: &RuntimeLimits) -> Failure {
    Failure::Stopped(ActionError::new(
        ErrorCode::OutOfMemory,
        format!(
            "the action used more memory than its limit of {} MiB allows (or threw null)",
            limits.memory_bytes >> 20
        ),
    ))
}

pub fn cpu_timeout(limits: &RuntimeLimits) -> Failure {
    Failure::Stopped(ActionError::new(
        ErrorCode::Timeout,
        format!(
            "the action ran longer than its CPU-time limit of {} ms; look for an endless loop",
            limits.cpu_time.as_millis()
        ),
    ))
}

pub fn wall_timeout(limits: &RuntimeLimits) -> Failure {
    Failure::Stopped(ActionError::new(
        ErrorCode::Timeout,
        format!(
            "the action did not finish within its wall-time limit of {} s",
            limits.wall_time.as_secs_f64()
        ),
    ))
}

pub fn internal(error: &dyn std::fmt::Display) -> Failure {
    Failure::Stopped(ActionError::new(
        ErrorCode::Internal,
        format!("the action runtime failed: {error}"),
    ))
}
