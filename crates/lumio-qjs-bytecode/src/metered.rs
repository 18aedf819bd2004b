//! QuickJS runtimes that ask a [`Meter`] before every allocation.
//!
//! The runtime's memory budget (per extension, per server) needs to see what QuickJS
//! allocates and to refuse it: a refused allocation fails inside QuickJS as out of memory,
//! exactly like its own per-runtime limit. rquickjs lets a runtime use a custom allocator,
//! which is an `unsafe trait`; [`MeteredAllocator`] is the one implementation, a counting
//! wrapper over rquickjs's `RustAllocator` (Rust's global allocator), behind the safe
//! [`Meter`] trait that the runtime implements.

use rquickjs::allocator::{Allocator, RustAllocator};
use rquickjs::{Result, Runtime};

/// What a runtime's allocations are charged to. Called from inside QuickJS's allocator:
/// it must not panic (that would abort the process) and must not run JavaScript.
pub trait Meter: 'static {
    /// Asks for `bytes` more. `false` refuses: the allocation fails and QuickJS throws its
    /// out-of-memory error.
    fn charge(&self, bytes: usize) -> bool;
    /// Gives back `bytes` that an earlier `charge` granted.
    fn release(&self, bytes: usize);
}

/// A QuickJS runtime whose allocations go through Rust's global allocator, each charged
/// to `meter` first and released to it when freed (the runtime's own creation included).
pub fn new_metered_runtime<M: Meter>(meter: M) -> Result<Runtime> {
    Runtime::new_with_alloc(MeteredAllocator { meter })
}

/// `RustAllocator`'s bookkeeping in front of each block: one `usize`, aligned to `u64`.
/// Counted so that many small blocks are not undercounted.
const HEADER: usize = 8;

/// What a block of `usable` bytes costs.
fn cost(usable: usize) -> usize {
    usable.saturating_add(HEADER)
}

/// `RustAllocator` rounds every size up to a multiple of 8; `None` on overflow.
fn rounded(size: usize) -> Option<usize> {
    size.checked_add(7).map(|s| s & !7)
}

/// [`RustAllocator`] with every block charged to a [`Meter`].
pub struct MeteredAllocator<M> {
    meter: M,
}

impl<M: Meter> MeteredAllocator<M> {
    /// Charges for `size` bytes, allocates with `allocate`, and settles the charge with
    /// what the block really holds; null (nothing charged) if refused or out of memory.
    fn charged(&mut self, size: usize, allocate: impl FnOnce() -> *mut u8) -> *mut u8 {
        let Some(expected) = rounded(size).map(cost) else {
            return std::ptr::null_mut();
        };
        if !self.meter.charge(expected) {
            return std::ptr::null_mut();
        }
        let ptr = allocate();
        if ptr.is_null() {
            self.meter.release(expected);
            return ptr;
        }
        self.settle(ptr, expected)
    }

    /// Corrects a charge of `charged` for the block at `ptr` to what the block holds, so
    /// that freeing it later releases exactly what was charged.
    fn settle(&mut self, ptr: *mut u8, charged: usize) -> *mut u8 {
        let actual = cost(block_size(ptr));
        if actual < charged {
            self.meter.release(charged - actual);
        } else if actual > charged && !self.meter.charge(actual - charged) {
            self.free(ptr);
            self.meter.release(charged);
            return std::ptr::null_mut();
        }
        ptr
    }

    /// Frees a block this allocator returned, without touching the meter.
    #[allow(unsafe_code)]
    fn free(&mut self, ptr: *mut u8) {
        // SAFETY: only called with a non-null pointer that `RustAllocator` returned a
        // moment ago and that nothing else has seen.
        unsafe { RustAllocator.dealloc(ptr) }
    }
}

/// Usable size of a live block from `RustAllocator`.
#[allow(unsafe_code)]
fn block_size(ptr: *mut u8) -> usize {
    // SAFETY: every caller passes a non-null pointer to a live block that
    // `RustAllocator` returned (through this module's allocator) and that is not freed yet.
    unsafe { RustAllocator::usable_size(ptr) }
}

// SAFETY: every block comes from `RustAllocator`, which meets the trait's contract
// (aligned to `u64`, at least the size asked for, `usable_size` from its header); this
// wrapper only refuses (returns null, which the contract allows) or forwards, and it
// frees and resizes only pointers QuickJS got from it. The two cases `RustAllocator`
// does not handle are handled here: `realloc` of null allocates, and a zero size stays a
// live (zero-byte) block, so that a null return always means "failed, the old block is
// still yours" — C's `realloc(p, 0)` freeing `p` and returning null would make QuickJS
// free it twice.
#[allow(unsafe_code)]
unsafe impl<M: Meter> Allocator for MeteredAllocator<M> {
    fn alloc(&mut self, size: usize) -> *mut u8 {
        self.charged(size, || RustAllocator.alloc(size))
    }

    fn calloc(&mut self, count: usize, size: usize) -> *mut u8 {
        // `RustAllocator` panics on overflow and returns null for zero bytes.
        match count.checked_mul(size) {
            Some(0) | None => std::ptr::null_mut(),
            Some(total) => self.charged(total, || RustAllocator.calloc(count, size)),
        }
    }

    unsafe fn dealloc(&mut self, ptr: *mut u8) {
        if ptr.is_null() {
            return;
        }
        let freed = cost(block_size(ptr));
        // SAFETY: the caller guarantees `ptr` came from this allocator, i.e. from
        // `RustAllocator`, and is live.
        unsafe { RustAllocator.dealloc(ptr) };
        self.meter.release(freed);
    }

    unsafe fn realloc(&mut self, ptr: *mut u8, new_size: usize) -> *mut u8 {
        if ptr.is_null() {
            return self.alloc(new_size);
        }
        let Some(wanted) = rounded(new_size).map(cost) else {
            return std::ptr::null_mut();
        };
        let old = cost(block_size(ptr));
        let more = wanted.saturating_sub(old);
        if more > 0 && !self.meter.charge(more) {
            return std::ptr::null_mut();
        }
        // SAFETY: the caller guarantees `ptr` came from this allocator, i.e. from
        // `RustAllocator`, and is live; on failure it stays valid and charged as before.
        let new = unsafe { RustAllocator.realloc(ptr, new_size) };
        if new.is_null() {
            self.meter.release(more);
            return new;
        }
        // The block is now charged `old + more`; settle to what it holds.
        self.settle(new, old + more)
    }

    unsafe fn usable_size(ptr: *mut u8) -> usize {
        if ptr.is_null() {
            return 0;
        }
        block_size(ptr)
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::rc::Rc;

    use super::*;
    use rquickjs::Context;

    /// Counts what is charged; refuses beyond `limit`.
    struct Counter {
        used: Rc<Cell<usize>>,
        limit: usize,
    }

    impl Meter for Counter {
        fn charge(&self, bytes: usize) -> bool {
            let next = self.used.get() + bytes;
            if next > self.limit {
                return false;
            }
            self.used.set(next);
            true
        }

        fn release(&self, bytes: usize) {
            self.used.set(self.used.get() - bytes);
        }
    }

    fn counter(limit: usize) -> (Counter, Rc<Cell<usize>>) {
        let used = Rc::new(Cell::new(0));
        (
            Counter {
                used: used.clone(),
                limit,
            },
            used,
        )
    }

    #[test]
    fn everything_charged_is_released_when_the_runtime_is_freed() {
        let (meter, used) = counter(usize::MAX);
        let rt = new_metered_runtime(meter).unwrap();
        let ctx = Context::full(&rt).unwrap();
        let length: usize = ctx
            .with(|ctx| ctx.eval("new Uint8Array(1 << 20).length"))
            .unwrap();
        assert_eq!(length, 1 << 20);
        assert!(used.get() > 100 << 10, "a context alone is charged");
        drop(ctx);
        drop(rt);
        assert_eq!(used.get(), 0);
    }

    #[test]
    fn a_refused_charge_is_out_of_memory_inside_quickjs() {
        let (meter, used) = counter(8 << 20);
        let rt = new_metered_runtime(meter).unwrap();
        let ctx = Context::full(&rt).unwrap();
        let caught: String = ctx
            .with(|ctx| {
                ctx.eval("try { new Uint8Array(16 << 20); 'allocated' } catch (e) { String(e) }")
            })
            .unwrap();
        assert!(caught.contains("out of memory"), "{caught}");
        // The script goes on after the refusal.
        let ok: i32 = ctx.with(|ctx| ctx.eval("6 * 7")).unwrap();
        assert_eq!(ok, 42);
        assert!(used.get() < 8 << 20);
    }

    #[test]
    fn realloc_of_null_allocates_and_a_zero_size_stays_a_live_block() {
        let (meter, used) = counter(usize::MAX);
        let mut allocator = MeteredAllocator { meter };
        #[allow(unsafe_code)]
        // SAFETY: the test frees only what this allocator returned, once.
        unsafe {
            let block = allocator.realloc(std::ptr::null_mut(), 100);
            assert!(!block.is_null());
            assert_eq!(used.get(), cost(104));
            let grown = allocator.realloc(block, 1000);
            assert_eq!(used.get(), cost(1000));
            let empty = allocator.realloc(grown, 0);
            assert!(!empty.is_null());
            assert_eq!(used.get(), cost(0));
            allocator.dealloc(empty);
        }
        assert_eq!(used.get(), 0);
        assert!(allocator.calloc(0, 8).is_null());
        assert!(allocator.calloc(usize::MAX, 2).is_null());
        assert_eq!(used.get(), 0);
    }
}
