//! Per-invocation limits (SPEC §7) and runtime options.

use std::net::SocketAddr;
use std::time::Duration;

/// What one invocation may use. Every limit ends only that invocation, with a clear error.
#[derive(Debug, Clone)]
pub struct RuntimeLimits {
    /// JavaScript execution time per invocation; time spent waiting for `ctx.fetch` or the
    /// audit log does not count.
    pub cpu_time: Duration,
    /// Wall-clock time per invocation, waits included.
    pub wall_time: Duration,
    /// QuickJS heap per invocation.
    pub memory_bytes: usize,
    /// JavaScript stack per invocation.
    pub stack_bytes: usize,
    /// Whole-request timeout of one `ctx.fetch`.
    pub fetch_timeout: Duration,
    /// Largest response body `ctx.fetch` reads.
    pub fetch_max_response_bytes: usize,
    /// Most `ctx.secrets.get` calls per invocation; each is an audit record.
    pub max_secret_gets: u32,
    /// Most `console.*` output kept per invocation, in bytes.
    pub max_console_bytes: usize,
    /// Largest return value, as JSON text; the leak guard scans all of it.
    pub max_result_bytes: usize,
    /// Lets `ctx.fetch` reach private, loopback and link-local addresses
    /// (`--allow-private-fetch`: tests and local development).
    pub allow_private_fetch: bool,
}

impl Default for RuntimeLimits {
    fn default() -> Self {
        Self {
            cpu_time: Duration::from_secs(1),
            wall_time: Duration::from_secs(30),
            memory_bytes: 64 << 20,
            stack_bytes: 512 << 10,
            fetch_timeout: Duration::from_secs(10),
            fetch_max_response_bytes: 5 << 20,
            max_secret_gets: 10_000,
            max_console_bytes: 64 << 10,
            max_result_bytes: 4 << 20,
            allow_private_fetch: false,
        }
    }
}

/// Invocations in flight (queued, running or parked) when [`RuntimeOptions::max_inflight`]
/// is 0. An invocation parked on a fetch holds its share of its deployment's warm context,
/// its client's connection and its fetch's: about 70 KB for the seed's action, most of it
/// outside QuickJS (`docs/benchmarks.md`); 10,000 of them measured 676 MB of server RSS,
/// within 1 GiB (each also holds two file descriptors, so RLIMIT_NOFILE must allow them).
/// One that holds big values across an await may hold up to its memory limit (64 MiB);
/// what they may hold together is bounded by [`RuntimeOptions::memory_budget_bytes`], not
/// here.
pub const DEFAULT_MAX_INFLIGHT: usize = 10_000;

/// An extension's share of the server's slots when
/// [`RuntimeOptions::max_inflight_per_extension`] is 0: a quarter, so that at least four
/// extensions at their bound still leave the server room.
pub const DEFAULT_EXTENSION_SHARE_DIVISOR: usize = 4;

/// How a [`crate::Runtime`] is set up.
#[derive(Debug, Clone, Default)]
pub struct RuntimeOptions {
    /// Limits of every invocation.
    pub limits: RuntimeLimits,
    /// Worker threads; 0 means one per CPU.
    pub workers: usize,
    /// Most invocations in flight (waiting for a worker, running, or parked on I/O);
    /// beyond it an invocation fails at once with `overloaded` rather than growing memory
    /// without bound. 0 means [`DEFAULT_MAX_INFLIGHT`].
    pub max_inflight: usize,
    /// Most invocations in flight for one extension; beyond it that extension's calls
    /// fail with `overloaded` while the others are served. 0 means a quarter of
    /// `max_inflight`. One action may hold at most half of its extension's, so a slow
    /// action leaves room for the extension's fast ones.
    pub max_inflight_per_extension: usize,
    /// Fixed DNS answers for `ctx.fetch` (like `curl --resolve`), for tests and local
    /// development. The private-address check still applies to them.
    pub fetch_resolve: Vec<(String, SocketAddr)>,
    /// Extra trusted root certificates (PEM) for `ctx.fetch`, e.g. a company CA.
    pub fetch_root_certificates_pem: Vec<Vec<u8>>,
    /// What the QuickJS heaps of all invocations in flight may hold together; beyond it
    /// an allocation fails and its invocation ends `out_of_memory`. 0 means half of the
    /// machine's (or container's) memory, at least 256 MiB and at most 32 GiB.
    pub memory_budget_bytes: usize,
    /// What one extension's invocations in flight may hold together, so that one
    /// extension cannot take every other's memory. 0 means a quarter of the budget.
    pub memory_per_extension_bytes: usize,
    /// Called on a worker thread once it has been idle for a second after work: the
    /// binary, which owns the global allocator, gives back what the thread's allocator
    /// cache holds (freed QuickJS heap there keeps whole pages from the OS).
    pub idle_trim: Option<fn()>,
}

impl RuntimeOptions {
    /// The bounds on invocations in flight, defaults applied.
    pub(crate) fn bounds(&self) -> crate::gate::Bounds {
        let server = match self.max_inflight {
            0 => DEFAULT_MAX_INFLIGHT,
            n => n,
        };
        let extension = match self.max_inflight_per_extension {
            0 => server / DEFAULT_EXTENSION_SHARE_DIVISOR,
            n => n,
        }
        .clamp(1, server);
        crate::gate::Bounds {
            server,
            extension,
            action: (extension / 2).max(1),
        }
    }
}
