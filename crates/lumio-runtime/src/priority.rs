//! Runtime workers run below the server's other threads. JavaScript is the one thing a
//! tenant can make expensive (busy loops, allocations that fault in gigabytes of pages);
//! the tokio threads that accept, parse and answer requests and the audit writer only
//! wait. At a lower priority a worker deep in a hostile run cannot delay the I/O every
//! other extension's calls wait on, and between workers the kernel still shares fairly.

/// Nice value of a runtime worker thread: a quarter of the weight of a default thread.
#[cfg(target_os = "linux")]
const WORKER_NICE: i32 = 6;

/// Lowers the calling thread's priority (on Linux the nice value is per thread). A thread
/// may always lower its own; failure (a sandbox refusing the call) changes nothing else.
pub(crate) fn lower_this_worker() {
    #[cfg(target_os = "linux")]
    if let Err(err) = rustix::process::setpriority_process(None, WORKER_NICE) {
        tracing::debug!(%err, "could not lower a runtime worker's priority");
    }
}
