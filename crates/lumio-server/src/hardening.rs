//! Hardening of the process that holds the keys (issue 22, item 4): no core dump may carry
//! the master key or a data key to disk, and the master key's page stays out of swap.
//!
//! Each step is best effort: a kernel or sandbox that refuses one gets a warning that says
//! what it means and what to change, never a failed start. Everything here goes through
//! rustix's and region's safe wrappers; `MADV_DONTDUMP` has none for memory we did not map
//! ourselves, and non-dumpable already means no core file is written (see ARCHITECTURE.md).

use lumio_crypto::Keyring;
use rustix::process::{self, DumpableBehavior, Resource, Rlimit};

/// Turns core dumps off for this process: `PR_SET_DUMPABLE` 0 (which also stops other
/// processes of the same user from attaching with ptrace or reading `/proc/<pid>/mem`)
/// and `RLIMIT_CORE` 0, soft and hard, so the process cannot raise it again.
///
/// Called by [`crate::run`] (the `lumio server` process) before any key is read; not by
/// [`crate::start`], which tests and embedders run inside processes of their own.
pub(crate) fn disable_core_dumps() {
    if let Err(err) = process::set_dumpable_behavior(DumpableBehavior::NotDumpable) {
        tracing::warn!(
            %err,
            "could not mark the server process non-dumpable (prctl PR_SET_DUMPABLE): a crash \
             could write the master key into a core file, and other processes of this user \
             can attach to it; run the server under a kernel and sandbox that allow prctl"
        );
    }
    let none = Rlimit {
        current: Some(0),
        maximum: Some(0),
    };
    if let Err(err) = process::setrlimit(Resource::Core, none) {
        tracing::warn!(
            %err,
            "could not set the core file size limit to 0 (setrlimit RLIMIT_CORE): a crash \
             could write the master key into a core file; set `LimitCORE=0` (systemd) or \
             `ulimit -c 0` before starting the server"
        );
    }
}

/// Warns about each held master key whose page the kernel would not lock in RAM.
pub(crate) fn warn_if_swappable(keys: &Keyring) {
    let unlocked = std::iter::once(keys.current())
        .chain(keys.previous())
        .filter(|key| !key.memory_locked())
        .count();
    if unlocked > 0 {
        let limit = process::getrlimit(Resource::Memlock).current;
        tracing::warn!(
            unlocked_keys = unlocked,
            memlock_limit_bytes = limit,
            "the kernel refused to lock the master key's memory (mlock): it may be written to \
             swap; raise the locked-memory limit (`LimitMEMLOCK=1M` in systemd, `ulimit -l`), \
             or run without swap or with encrypted swap"
        );
    }
}
