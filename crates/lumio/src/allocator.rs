//! The global allocator, jemalloc with its background thread on: after a burst of action
//! calls the server's memory goes back to the OS within seconds, even from threads that
//! have gone idle; with glibc's malloc RSS stayed at 20 times its idle size
//! (docs/benchmarks.md).

use std::cell::Cell;
use std::time::{Duration, Instant};

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Gives back what this thread's allocator cache holds. A cached free block keeps its
/// whole page (slab) from being returned to the OS, and a thread that has gone idle
/// never empties its cache by itself: after a burst of invocations those pages were a
/// quarter of the server's RSS. Cheap when the cache is empty.
#[allow(unsafe_code)]
pub fn flush_thread_cache() {
    const NAME: &[u8] = b"thread.tcache.flush\0";
    // SAFETY: a documented jemalloc control that takes and returns no value; the name
    // is NUL-terminated and every pointer is null with a length of 0.
    unsafe {
        tikv_jemalloc_sys::mallctl(
            NAME.as_ptr().cast(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
        );
    }
}

/// What a runtime worker calls once it has gone idle after work: its own cache, and the C
/// library's malloc (SQLite's page caches grow there during a burst) trimmed too.
pub fn idle_trim() {
    flush_thread_cache();
    #[cfg(target_env = "gnu")]
    // SAFETY: glibc's `malloc_trim` takes a size and touches only the C heap's free lists.
    #[allow(unsafe_code)]
    unsafe {
        libc::malloc_trim(0);
    }
}

/// [`flush_thread_cache`] at most every [`FLUSH_EVERY`] on this thread: for a hook that
/// runs often, like a tokio worker going to sleep (many times a second under load, where
/// flushing each time would make the next allocations slow).
pub fn flush_thread_cache_now_and_then() {
    thread_local! {
        static LAST: Cell<Option<Instant>> = const { Cell::new(None) };
    }
    let now = Instant::now();
    LAST.with(|last| {
        if last
            .get()
            .is_none_or(|at| now.duration_since(at) >= FLUSH_EVERY)
        {
            last.set(Some(now));
            flush_thread_cache();
        }
    });
}

/// Short, so that what a thread frees just before it goes idle for good is given back
/// too, unless it freed it within this time of its previous flush.
const FLUSH_EVERY: Duration = Duration::from_millis(20);
