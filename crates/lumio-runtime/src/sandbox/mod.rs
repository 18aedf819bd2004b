//! The sandbox: runs one action in a fresh QuickJS context, then decides what may leave it
//! (leak guard, masked console output, the audit ticket egress must wait for).

mod clock;
mod engine;
mod errors;
mod globals;
mod loader;
mod natives;
mod response;
mod state;

use std::rc::Rc;
use std::sync::{mpsc, Arc};
use std::time::Instant;

use lumio_audit::Ticket;

pub use engine::{Engine, Entry, Failure, FoundAction};
pub use loader::SDK_JS;
pub use state::Services;

use crate::host::Host;
use crate::invocation::{ActionError, ConsoleLine, ErrorCode, Invocation};
use crate::leak_guard::LeakGuard;

/// An invocation that ran; `durable_up_to` is the audit ticket that must be committed
/// before anything in `invocation` is handed out.
pub struct Finished {
    pub invocation: Invocation,
    pub durable_up_to: Option<Ticket>,
    pub poisoned: bool,
}

/// Runs `entry` on `engine` and applies the leak guard and console masking.
pub fn execute(
    engine: &Engine,
    services: &Arc<Services>,
    entry: &Entry<'_>,
    host: Arc<dyn Host>,
) -> Finished {
    let started = Instant::now();
    let (done_tx, done_rx) = mpsc::channel();
    let state = Rc::new(state::InvocationState::new(host, services.clone(), done_tx));
    let output = engine.run(entry, &state, &done_rx);

    let reads = state.reads.borrow();
    let guard = LeakGuard::new(reads.iter().map(|(n, v)| (n, v)));
    let mut leak_blocked = Vec::new();
    let (result, stack) = match output.result {
        Ok(value) => {
            leak_blocked = guard.find_in_json(&value);
            match leak_blocked.first() {
                Some(name) => (Err(leak_error(name.as_str(), "return value")), None),
                None => (Ok(value), None),
            }
        }
        Err(Failure::Stopped(error)) => (Err(error), None),
        Err(Failure::Thrown(thrown)) => {
            // A thrown message reaches the caller too: guard it like a return value.
            leak_blocked = guard.find_in_text(&thrown.error.message);
            let stack = thrown.stack.map(|s| guard.mask(&s));
            match leak_blocked.first() {
                Some(name) => (Err(leak_error(name.as_str(), "error message")), stack),
                None => (Err(thrown.error), stack),
            }
        }
    };
    let console = state
        .console
        .borrow()
        .iter()
        .map(|(level, text)| ConsoleLine {
            level: *level,
            text: guard.mask(text),
        })
        .collect();
    let durable_up_to = if state.value_read.get() {
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
            duration: started.elapsed(),
        },
        durable_up_to,
        poisoned: output.poisoned,
    }
}

fn leak_error(name: &str, place: &str) -> ActionError {
    ActionError::new(
        ErrorCode::SecretLeak,
        format!("the action's {place} contains the value of secret {name}; return the API's result, not the key"),
    )
}
