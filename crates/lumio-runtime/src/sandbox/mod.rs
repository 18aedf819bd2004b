//! The sandbox: runs one action in a warm QuickJS context of its deployment, then decides
//! what may leave it (leak guard, masked console output, the audit ticket egress must
//! wait for).

mod action_probe;
mod clock;
mod current;
mod denied;
mod engine;
mod errors;
mod globals;
mod live;
mod loader;
mod meter;
mod natives;
mod quickjs;
mod response;
mod seen;
mod state;
mod timers;
mod warm;

use lumio_core::Ticket;

pub use engine::{compile_sdk, Engine, FoundAction};
pub use errors::clip;
pub use live::{Job, Live, Progress};
pub use loader::SDK_JS;
pub use quickjs::Failure;
pub use state::{FetchDone, Services, Wake, Waker};
pub use warm::WarmContext;

use crate::invocation::{ActionError, ConsoleLine, ErrorCode, Invocation};
use crate::leak_guard::{GuardCache, LeakGuard};

/// An invocation that ran; `durable_up_to` is the audit ticket that must be committed
/// before anything in `invocation` is handed out, and `in_flight` the fetches to cancel
/// once that is settled.
pub struct Finished {
    pub invocation: Invocation,
    pub durable_up_to: Option<Ticket>,
    pub in_flight: Vec<tokio::task::AbortHandle>,
}

impl Finished {
    /// An invocation that could not even start.
    pub fn failed(error: ActionError) -> Self {
        Self {
            invocation: Invocation::failed(error),
            durable_up_to: None,
            in_flight: Vec::new(),
        }
    }
}

/// Decides what of a finished invocation may leave: the leak guard on its result and
/// error message, masked console output and stack, and the audit ticket to wait for. The
/// scan runs on the invocation's CPU-time budget; it looks for every value read in the
/// invocation's context (a value an earlier invocation kept in a global is stopped too),
/// and its matcher comes from the worker's `guards` when the same values were seen before.
pub fn conclude(
    live: &Live,
    result: Result<serde_json::Value, Failure>,
    guards: &mut GuardCache,
) -> Finished {
    let state = &live.state;
    live.clock.enter();
    let guard = guards
        .guard_for(&state.seen.reads())
        .known_from(live.args_json());
    let mut leak_blocked = Vec::new();
    let (mut result, mut stack) = match result {
        Ok(value) => {
            leak_blocked = guard.find_in_json(&value);
            match leak_blocked.first() {
                Some(name) => (Err(leak_error(name.as_str(), "return value")), None),
                None => (Ok(value), None),
            }
        }
        Err(Failure::Stopped(error)) => (Err(error), None),
        Err(Failure::Thrown(thrown)) => {
            // A thrown message reaches the caller too: guard it whole, like a return
            // value, and only then cut it to length.
            leak_blocked = guard.find_in_text(&thrown.error.message);
            let stack = thrown.stack.map(|s| guard.mask(&s));
            match leak_blocked.first() {
                Some(name) => (Err(leak_error(name.as_str(), "error message")), stack),
                None => (Err(platform_codes_only(state, thrown.error)), stack),
            }
        }
    };
    let mut console = masked_console(state, &guard);
    live.clock.leave();
    // The reads not yet recorded (those after the last fetch) and the refused ones are
    // recorded now; if that fails, nothing the invocation produced may leave.
    if let Err(err) = state.record_reads().and_then(|()| state.record_denied()) {
        result = Err(ActionError::new(
            ErrorCode::AuditUnavailable,
            err.to_string(),
        ));
        console = vec![ConsoleLine::withheld()];
        stack = None;
        leak_blocked.clear();
    }
    if live.clock.check() && result.is_ok() {
        result = Err(ActionError::new(
            ErrorCode::Timeout,
            format!(
                "the action ran longer than its CPU-time limit of {} ms, counting the leak guard's scan of its result",
                state.services.limits.cpu_time.as_millis()
            ),
        ));
    }
    let durable_up_to = if state.output_waits() {
        state.last_ticket.get()
    } else {
        None
    };
    Finished {
        invocation: Invocation {
            result,
            console,
            stack,
            leak_blocked,
            secret_gets: state.gets.get(),
            denied_records: state.denied_records.get(),
            duration: live.started.elapsed(),
        },
        durable_up_to,
        in_flight: state.release_js(),
    }
}

/// A thrown error keeps a platform code (`audit_unavailable`, `limit_exceeded`,
/// `fetch_refused`, `fetch_failed`, `unavailable`) and its hint only if the platform
/// threw it; the message is cut to length.
fn platform_codes_only(state: &state::InvocationState, error: ActionError) -> ActionError {
    let platform = matches!(
        error.code,
        ErrorCode::AuditUnavailable
            | ErrorCode::LimitExceeded
            | ErrorCode::FetchRefused
            | ErrorCode::FetchFailed
            | ErrorCode::Unavailable
    );
    let thrown_by_platform = platform
        .then(|| state.platform_error_hint(error.code.as_str(), &error.message))
        .flatten();
    let mut clipped = ActionError::new(
        if platform && thrown_by_platform.is_none() {
            ErrorCode::ActionError
        } else {
            error.code
        },
        errors::clip(error.message),
    );
    clipped.hint = thrown_by_platform.flatten();
    clipped
}

/// Console lines with every guarded form masked, then cut to the output budget.
fn masked_console(state: &state::InvocationState, guard: &LeakGuard) -> Vec<ConsoleLine> {
    let mut left = state.services.limits.max_console_bytes;
    let mut lines = Vec::new();
    let mut cut = state.console_cut();
    for (level, text) in state.console.borrow().iter() {
        if left == 0 {
            cut = true;
            break;
        }
        let mut text = guard.mask(text);
        if text.len() > left {
            let mut at = left;
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            text.truncate(at);
            cut = true;
        }
        left -= text.len();
        lines.push(ConsoleLine {
            level: *level,
            text,
        });
    }
    if cut {
        lines.push(ConsoleLine {
            level: crate::invocation::LogLevel::Warn,
            text: format!(
                "[console output truncated: the limit of {} bytes was reached]",
                state.services.limits.max_console_bytes
            ),
        });
    }
    lines
}

fn leak_error(name: &str, place: &str) -> ActionError {
    ActionError::new(
        ErrorCode::SecretLeak,
        format!("the action's {place} contains the value of secret {name}; return the API's result, not the key"),
    )
}
