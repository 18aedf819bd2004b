//! The runtime's memory budget: what the QuickJS heaps of all invocations in flight may
//! hold together, per server and per extension.
//!
//! The per-invocation limit (`RuntimeLimits::memory_bytes`) alone does not bound a
//! server: 10,000 invocations in flight may each hold 64 MiB. Every QuickJS allocation of
//! an invocation is charged to its extension's share and to the server's total (see
//! `sandbox/meter.rs`, which reserves from these pools in chunks); a charge either pool
//! refuses fails inside QuickJS as out of memory, and the invocation ends `out_of_memory`
//! naming the budget. So one extension cannot take the memory every other extension's
//! invocations need, and all of them together cannot take the machine's.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::pool::Runtime;

/// Budget when none is given and the machine's memory cannot be read.
const FALLBACK_BUDGET: usize = 2 << 30;
/// Smallest default budget: a few invocations at their full 64 MiB.
const MIN_DEFAULT_BUDGET: usize = 256 << 20;
/// Largest default budget; a bigger machine can say more with `--runtime-memory`.
const MAX_DEFAULT_BUDGET: usize = 32 << 30;

/// The server's budget and each extension's share of it.
pub struct MemoryBudget {
    server: Pool,
    per_extension: usize,
    /// Shares of the extensions with memory charged now; an entry goes when its last
    /// runtime gives everything back.
    extensions: Mutex<HashMap<Arc<str>, Arc<Pool>>>,
}

impl MemoryBudget {
    /// `total` bytes for all invocations, `per_extension` for one extension's; 0 means the
    /// default (half the machine's memory within limits; a quarter of `total`).
    pub fn new(total: usize, per_extension: usize) -> Self {
        let total = match total {
            0 => default_budget(),
            n => n,
        };
        let per_extension = match per_extension {
            0 => total / 4,
            n => n.min(total),
        };
        Self {
            server: Pool::new(total),
            per_extension,
            extensions: Mutex::default(),
        }
    }

    /// Bytes all invocations may hold together.
    pub fn limit(&self) -> usize {
        self.server.limit
    }

    /// Bytes one extension's invocations may hold together.
    pub fn per_extension(&self) -> usize {
        self.per_extension
    }

    /// Bytes charged now, over all extensions.
    pub fn in_use(&self) -> usize {
        self.server.reserved.load(Ordering::Relaxed)
    }

    /// Bytes charged now to `tenant`'s invocations.
    pub fn in_use_by(&self, tenant: &str) -> usize {
        self.map()
            .get(tenant)
            .map_or(0, |pool| pool.reserved.load(Ordering::Relaxed))
    }

    /// Where `tenant`'s invocations are charged.
    pub(crate) fn account(self: &Arc<Self>, tenant: &Arc<str>) -> Account {
        let extension = self
            .map()
            .entry(tenant.clone())
            .or_insert_with(|| Arc::new(Pool::new(self.per_extension)))
            .clone();
        Account {
            budget: self.clone(),
            tenant: tenant.clone(),
            extension,
        }
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<Arc<str>, Arc<Pool>>> {
        self.extensions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// Which budget refused a charge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The extension's share, of this many bytes.
    Extension(usize),
    /// The server's total, of this many bytes.
    Server(usize),
}

/// One extension's share and the server's total, charged together.
pub(crate) struct Account {
    budget: Arc<MemoryBudget>,
    tenant: Arc<str>,
    extension: Arc<Pool>,
}

impl Account {
    /// Takes `bytes` from the extension's share and the server's total, or from neither.
    pub fn reserve(&self, bytes: usize) -> Result<(), Refusal> {
        if !self.extension.take(bytes) {
            return Err(Refusal::Extension(self.extension.limit));
        }
        if !self.budget.server.take(bytes) {
            self.extension.give(bytes);
            return Err(Refusal::Server(self.budget.server.limit));
        }
        Ok(())
    }

    /// Gives back `bytes` an earlier [`Account::reserve`] took.
    pub fn give_back(&self, bytes: usize) {
        self.extension.give(bytes);
        self.budget.server.give(bytes);
    }
}

impl Drop for Account {
    fn drop(&mut self) {
        let mut map = self.budget.map();
        // Only the map and this account hold the share, and it is empty: no one else can
        // take a clone without the lock held here.
        if Arc::strong_count(&self.extension) == 2
            && self.extension.reserved.load(Ordering::Acquire) == 0
        {
            map.remove(&self.tenant);
        }
    }
}

/// Bytes that may be reserved, and those reserved now.
struct Pool {
    limit: usize,
    reserved: AtomicUsize,
}

impl Pool {
    fn new(limit: usize) -> Self {
        Self {
            limit,
            reserved: AtomicUsize::new(0),
        }
    }

    fn take(&self, bytes: usize) -> bool {
        self.reserved
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |now| {
                now.checked_add(bytes).filter(|&next| next <= self.limit)
            })
            .is_ok()
    }

    fn give(&self, bytes: usize) {
        self.reserved.fetch_sub(bytes, Ordering::AcqRel);
    }
}

/// Half of the memory this process may use (the cgroup's limit, else the machine's RAM),
/// within [`MIN_DEFAULT_BUDGET`] and [`MAX_DEFAULT_BUDGET`].
pub fn default_budget() -> usize {
    let ram = [cgroup_limit(), physical_memory()]
        .into_iter()
        .flatten()
        .min();
    match ram {
        Some(bytes) => (bytes / 2).clamp(MIN_DEFAULT_BUDGET, MAX_DEFAULT_BUDGET),
        None => FALLBACK_BUDGET,
    }
}

fn physical_memory() -> Option<usize> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// cgroup v2's `memory.max` (a container's limit); "max" means none.
fn cgroup_limit() -> Option<usize> {
    std::fs::read_to_string("/sys/fs/cgroup/memory.max")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Readings of the memory budget, e.g. for `/metrics`.
impl Runtime {
    /// Bytes the QuickJS heaps of the invocations in flight hold now (reserved in chunks,
    /// so a little above what they use).
    pub fn memory_in_use(&self) -> usize {
        self.memory.in_use()
    }

    /// Bytes `tenant`'s invocations in flight hold now.
    pub fn memory_in_use_by(&self, tenant: &str) -> usize {
        self.memory.in_use_by(tenant)
    }

    /// Bytes all invocations may hold together.
    pub fn memory_budget(&self) -> usize {
        self.memory.limit()
    }

    /// Bytes one extension's invocations may hold together.
    pub fn memory_per_extension(&self) -> usize {
        self.memory.per_extension()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_share_refuses_beyond_its_limit_and_the_server_beyond_its_total() {
        let budget = Arc::new(MemoryBudget::new(100, 60));
        let a = budget.account(&Arc::from("a"));
        let b = budget.account(&Arc::from("b"));
        assert_eq!(a.reserve(50), Ok(()));
        assert_eq!(a.reserve(20), Err(Refusal::Extension(60)));
        assert_eq!(b.reserve(51), Err(Refusal::Server(100)));
        assert_eq!(budget.in_use_by("b"), 0, "a refusal takes nothing");
        assert_eq!(b.reserve(40), Ok(()));
        assert_eq!(budget.in_use(), 90);
        a.give_back(50);
        b.give_back(40);
        assert_eq!(budget.in_use(), 0);
    }

    #[test]
    fn an_extension_without_charges_leaves_no_entry() {
        let budget = Arc::new(MemoryBudget::new(100, 0));
        assert_eq!(budget.per_extension(), 25);
        let a = budget.account(&Arc::from("a"));
        a.reserve(10).unwrap();
        a.give_back(10);
        drop(a);
        assert!(budget.map().is_empty());
    }

    #[test]
    fn the_default_is_half_the_memory_within_bounds() {
        let default = default_budget();
        assert!((MIN_DEFAULT_BUDGET..=MAX_DEFAULT_BUDGET).contains(&default));
    }
}
