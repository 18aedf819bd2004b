//! Recent invocations per extension and environment, for `lumio logs`. Kept in memory,
//! per server process: console output is already masked by the runtime.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use lumio_core::Environment;
use lumio_runtime::ConsoleLine;
use serde::Serialize;

/// Invocations kept per extension and environment.
pub const KEPT_INVOCATIONS: usize = 200;

/// One invocation as `lumio logs` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct InvocationLog {
    pub at: DateTime<Utc>,
    pub action: String,
    pub request_id: String,
    /// `ok`, or the error code.
    pub outcome: String,
    pub duration_ms: f64,
    pub console: Vec<ConsoleLine>,
    /// The error message given to the caller, if any.
    pub error: Option<String>,
}

#[derive(Default)]
pub(crate) struct InvocationLogs {
    rings: Mutex<HashMap<(i64, Environment), VecDeque<InvocationLog>>>,
}

impl InvocationLogs {
    pub fn push(&self, extension_id: i64, environment: Environment, log: InvocationLog) {
        let mut rings = self.rings.lock().expect("logs lock");
        let ring = rings.entry((extension_id, environment)).or_default();
        if ring.len() == KEPT_INVOCATIONS {
            ring.pop_front();
        }
        ring.push_back(log);
    }

    /// Newest first.
    pub fn recent(
        &self,
        extension_id: i64,
        environment: Environment,
        limit: usize,
    ) -> Vec<InvocationLog> {
        let rings = self.rings.lock().expect("logs lock");
        rings
            .get(&(extension_id, environment))
            .map(|ring| ring.iter().rev().take(limit).cloned().collect())
            .unwrap_or_default()
    }
}
