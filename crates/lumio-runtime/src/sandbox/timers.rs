//! `setTimeout`, `setInterval`, `clearTimeout` and `clearInterval`. A timer parks the
//! invocation like a fetch does; the worker runs the callback when it is due, within the
//! invocation's wall-time limit (a timer due after it ends the invocation with `timeout`).

use std::rc::Rc;
use std::time::{Duration, Instant};

use rquickjs::convert::Coerced;
use rquickjs::function::{Opt, Rest};
use rquickjs::{Ctx, Exception, Function, Persistent, Result, Value};

use super::current::Current;
use super::natives::throw_coded;
use super::state::{InvocationState, Timer};

/// Most timers one invocation may have waiting at once.
pub const MAX_TIMERS: usize = 1_000;

/// Shortest interval of `setInterval`, as in Node.js: a zero interval would spin.
const MIN_INTERVAL: Duration = Duration::from_millis(1);

pub fn install<'js>(ctx: &Ctx<'js>, current: &Rc<Current>) -> Result<()> {
    let globals = ctx.globals();
    for (name, repeat) in [("setTimeout", false), ("setInterval", true)] {
        let now = current.clone();
        let set = move |ctx: Ctx<'js>,
                        callback: Value<'js>,
                        delay: Opt<Coerced<f64>>,
                        args: Rest<Value<'js>>| {
            schedule(
                &ctx,
                &*now.state(&ctx)?,
                name,
                repeat,
                callback,
                delay.0.map(|d| d.0),
                args.0,
            )
        };
        globals.set(name, Function::new(ctx.clone(), set)?.with_name(name)?)?;
    }
    for name in ["clearTimeout", "clearInterval"] {
        let now = current.clone();
        let clear = move |ctx: Ctx<'js>, id: Opt<Coerced<f64>>| -> Result<()> {
            let state = now.state(&ctx)?;
            if let Some(id) =
                id.0.map(|id| id.0)
                    .filter(|id| id.fract() == 0.0 && *id >= 0.0)
            {
                state.timers.borrow_mut().remove(&(id as u32));
            }
            Ok(())
        };
        globals.set(name, Function::new(ctx.clone(), clear)?.with_name(name)?)?;
    }
    Ok(())
}

fn schedule<'js>(
    ctx: &Ctx<'js>,
    state: &InvocationState,
    name: &str,
    repeat: bool,
    callback: Value<'js>,
    delay_ms: Option<f64>,
    args: Vec<Value<'js>>,
) -> Result<u32> {
    let Some(callback) = callback.into_function() else {
        let message = format!("{name} takes a function to call; strings are not evaluated");
        return Err(Exception::throw_type(ctx, &message));
    };
    if state.timers.borrow().len() >= MAX_TIMERS {
        let message = format!(
            "more than {MAX_TIMERS} timers are waiting in this invocation; clear the ones you no longer need"
        );
        return Err(throw_coded(ctx, state, "limit_exceeded", &message));
    }
    // Anything beyond the wall-time limit ends the invocation anyway.
    let longest = state.services.limits.wall_time + Duration::from_secs(1);
    let delay = match delay_ms {
        Some(ms) if ms.is_finite() && ms > 0.0 => Duration::from_secs_f64(ms / 1000.0).min(longest),
        _ => Duration::ZERO,
    };
    let every = repeat.then(|| delay.max(MIN_INTERVAL));
    let id = state.next_timer_id();
    let timer = Timer {
        due: Instant::now() + delay,
        every,
        callback: Persistent::save(ctx, callback),
        args: args.into_iter().map(|a| Persistent::save(ctx, a)).collect(),
    };
    state.timers.borrow_mut().insert(id, timer);
    Ok(id)
}

/// Calls a due timer's callback, putting an interval back first (so that the callback
/// may clear it).
pub fn fire<'js>(ctx: &Ctx<'js>, state: &InvocationState, id: u32, timer: Timer) -> Result<()> {
    let callback = timer.callback.clone().restore(ctx)?;
    let args = timer
        .args
        .iter()
        .map(|a| a.clone().restore(ctx))
        .collect::<Result<Vec<_>>>()?;
    if let Some(every) = timer.every {
        let next = Timer {
            due: Instant::now() + every,
            ..timer
        };
        state.timers.borrow_mut().insert(id, next);
    }
    callback.call::<_, ()>((Rest(args),))
}
