//! Lumio's action runtime: deploys an extension's `server/*.ts` (TypeScript stripped with
//! oxc) and runs its actions, each in a QuickJS runtime of its own, on a pool of worker
//! threads, with `ctx.secrets.get`, `ctx.fetch`, timers and `console`. An invocation
//! awaiting host I/O is parked and its worker runs others meanwhile.
//!
//! Architecture Invariant: this crate knows nothing of stores, tokens or HTTP routes. It
//! reads secrets and waits for audit durability only through [`Host`], which the server
//! implements over the secrets service.
//!
//! Architecture Invariant (SPEC §6, fail closed): nothing produced after a secret was read
//! — a `ctx.fetch` request, the return value, console output — leaves before
//! [`Host::audit_durable`] succeeded for the reads before it; the leak guard stops a return
//! value or error message that contains a secret's value.

mod caller_sent;
mod compile;
mod egress;
mod error;
mod fairness;
mod fetch;
mod gate;
mod host;
mod invocation;
mod json_unescape;
mod leak_guard;
mod limits;
mod memory;
mod outbound;
mod pool;
mod priority;
mod run_queue;
mod sandbox;
mod validate;
mod warm_pool;
mod worker;

/// The egress check one `ctx.fetch` makes, for the `egress` bench; not an API.
#[doc(hidden)]
pub mod egress_bench {
    pub use crate::egress::{Blocked, EgressGuard, Outgoing};
    pub use crate::leak_guard::GuardCache;
}

pub use compile::{compile, compile_with_limits, ActionInfo, Deployment};
pub use error::{DeployError, RuntimeError};
pub use host::{Denials, DeniedReads, Host, HostError, SecretReads};
pub use invocation::{ActionError, ConsoleLine, ErrorCode, Invocation, LogLevel};
pub use leak_guard::MIN_GUARDED_LEN;
pub use limits::{RuntimeLimits, RuntimeOptions, DEFAULT_MAX_INFLIGHT};
pub use memory::default_budget as default_memory_budget;
pub use outbound::GuardedClient;
pub use pool::Runtime;
pub use validate::Validator;

/// The SDK's JavaScript (`sdk/server.js`), as embedded in the runtime.
pub const SDK_SERVER_JS: &str = sandbox::SDK_JS;
