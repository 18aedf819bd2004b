//! Charges one QuickJS runtime's allocations to the memory budget of the extension whose
//! invocation it runs.
//!
//! QuickJS allocates often and in small pieces. The count per runtime is a plain `Cell`
//! (a runtime lives on one worker thread); the shared, atomic pools are touched only to
//! reserve or give back [`CHUNK`]s, so allocating does not contend on an atomic each time.
//!
//! A warm context waits between invocations of its extension's deployment: while it is
//! idle, [`RuntimeMeter::unbind`] gives its reservation back (the budget counts what
//! invocations in flight hold), and the next invocation [`RuntimeMeter::bind`]s it again
//! by reserving what it holds from the same extension's share.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use lumio_qjs_bytecode::metered::Meter;

use crate::memory::{Account, Refusal};

/// Reserved from the shared pools at a time.
const CHUNK: usize = 256 << 10;

/// Reserved before a new runtime is made: more than QuickJS's runtime constructor
/// allocates (a fresh runtime holds well under 256 KiB), so it is never refused.
const START: usize = 1 << 20;

/// The meter of one QuickJS runtime; clones share it (the runtime's allocator holds one).
#[derive(Clone)]
pub struct RuntimeMeter(Rc<Charge>);

struct Charge {
    /// Bytes QuickJS holds.
    used: Cell<usize>,
    /// Bytes reserved from `account` (at least `used` while bound).
    reserved: Cell<usize>,
    /// `None` while the runtime waits, unused, for its next invocation.
    account: RefCell<Option<Account>>,
    /// The budget that refused a charge during this invocation.
    refused: Cell<Option<Refusal>>,
}

impl RuntimeMeter {
    /// A meter for a new runtime with [`START`] bytes already reserved from `account`,
    /// or the budget that has not that much left. QuickJS's runtime constructor must
    /// never see a refusal: rquickjs 0.14 does not check it for null and would crash the
    /// process, so a budget that is nearly spent refuses here, before QuickJS is called.
    pub fn started(account: Account) -> Result<Self, Refusal> {
        account.reserve(START)?;
        Ok(Self(Rc::new(Charge {
            used: Cell::new(0),
            reserved: Cell::new(START),
            account: RefCell::new(Some(account)),
            refused: Cell::new(None),
        })))
    }

    /// The budget that refused memory to this invocation, if one did.
    pub fn refused(&self) -> Option<Refusal> {
        self.0.refused.get()
    }

    /// Bytes the runtime holds.
    pub fn used(&self) -> usize {
        self.0.used.get()
    }

    /// The budget refused nothing yet in the invocation starting now.
    pub fn clear_refusal(&self) {
        self.0.refused.set(None);
    }

    /// The context waits, idle, for its next invocation: nothing of it stays charged.
    pub fn unbind(&self) {
        let charge = &self.0;
        if let Some(account) = charge.account.borrow_mut().take() {
            account.give_back(charge.reserved.replace(0));
        }
        charge.refused.set(None);
    }

    /// Binds an idle meter to `account` again, reserving what its runtime holds.
    pub fn bind(&self, account: Account) -> Result<(), Refusal> {
        let charge = &self.0;
        if charge.account.borrow().is_some() {
            return Ok(());
        }
        let reserved = reserve(&account, charge.used.get())?;
        charge.reserved.set(reserved);
        *charge.account.borrow_mut() = Some(account);
        Ok(())
    }
}

/// Reserves at least `need` bytes, a whole number of chunks if the budget allows.
fn reserve(account: &Account, need: usize) -> Result<usize, Refusal> {
    let chunked = need.div_ceil(CHUNK).saturating_mul(CHUNK);
    match account.reserve(chunked) {
        Ok(()) => Ok(chunked),
        // Near the limit, exactly what is needed may still fit.
        Err(_) => account.reserve(need).map(|()| need),
    }
}

impl Meter for RuntimeMeter {
    fn charge(&self, bytes: usize) -> bool {
        let charge = &self.0;
        let used = charge.used.get().saturating_add(bytes);
        let Ok(account) = charge.account.try_borrow() else {
            return false;
        };
        match account.as_ref() {
            Some(account) if used > charge.reserved.get() => {
                match reserve(account, used - charge.reserved.get()) {
                    Ok(more) => charge.reserved.set(charge.reserved.get() + more),
                    Err(refusal) => {
                        charge.refused.set(Some(refusal));
                        return false;
                    }
                }
            }
            // Unbound, an idle runtime only frees; were it to allocate, binding reserves
            // what it holds by then.
            Some(_) | None => {}
        }
        charge.used.set(used);
        true
    }

    fn release(&self, bytes: usize) {
        let charge = &self.0;
        let used = charge.used.get().saturating_sub(bytes);
        charge.used.set(used);
        let Ok(account) = charge.account.try_borrow() else {
            return;
        };
        let reserved = charge.reserved.get();
        // Keep up to two chunks spare so that a loop allocating and freeing does not
        // reserve and give back each time.
        if let Some(account) = account.as_ref() {
            if reserved - used > 2 * CHUNK {
                let keep = used + CHUNK;
                account.give_back(reserved - keep);
                charge.reserved.set(keep);
            }
        }
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        if let Some(account) = self.account.get_mut().take() {
            account.give_back(self.reserved.get());
        }
    }
}
