//! Which invocation a warm context is running right now.
//!
//! A warm context's natives (`console`, timers, `ctx.secrets.get`, `ctx.fetch`) and its
//! runtime's interrupt handler are made once, with the context, so they cannot capture an
//! invocation. They look here instead: every call is charged to, audited for and limited
//! by the invocation the worker is running at that moment, even through a function an
//! earlier invocation kept in a global.

use std::cell::RefCell;
use std::rc::Rc;

use rquickjs::{Ctx, Exception};

use super::clock::Clock;
use super::state::InvocationState;

/// The invocation being run in one context, if any.
#[derive(Default)]
pub struct Current {
    running: RefCell<Option<(Rc<InvocationState>, Rc<Clock>)>>,
}

impl Current {
    /// The worker starts (or resumes) running `state`'s JavaScript.
    pub fn enter(&self, state: &Rc<InvocationState>, clock: &Rc<Clock>) {
        *self.running.borrow_mut() = Some((state.clone(), clock.clone()));
    }

    /// The worker stops running it.
    pub fn leave(&self) {
        self.running.borrow_mut().take();
    }

    /// The running invocation's state, or a JavaScript error when none runs (only
    /// reachable if QuickJS ran code outside an invocation, which Lumio never does).
    pub fn state(&self, ctx: &Ctx<'_>) -> rquickjs::Result<Rc<InvocationState>> {
        let running = self.running.try_borrow().ok();
        match running.as_ref().and_then(|r| r.as_ref()) {
            Some((state, _)) => Ok(state.clone()),
            None => Err(Exception::throw_internal(
                ctx,
                "no invocation is running in this context",
            )),
        }
    }

    /// The worker slot of the running invocation.
    pub fn running_slot(&self) -> Option<u64> {
        let running = self.running.try_borrow().ok()?;
        running.as_ref().map(|(state, _)| state.waker.slot)
    }

    /// The interrupt handler: true stops the script (the running invocation's CPU time
    /// is spent).
    pub fn interrupt(&self) -> bool {
        let Ok(running) = self.running.try_borrow() else {
            return false;
        };
        running.as_ref().is_some_and(|(_, clock)| clock.check())
    }
}
