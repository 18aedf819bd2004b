//! Per-invocation state behind the native functions: secrets read, audit tickets,
//! console output, fetches in flight. Lives on the worker thread and dies with the context.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::sync::mpsc::Sender;
use std::sync::Arc;

use lumio_audit::Ticket;
use lumio_core::{SecretName, SecretValue};
use rquickjs::{Function, Persistent};

use crate::fetch::{FetchError, FetchResponse, Fetcher};
use crate::host::Host;
use crate::invocation::LogLevel;
use crate::limits::RuntimeLimits;

/// What a worker shares with every invocation it runs.
pub struct Services {
    pub fetcher: Arc<Fetcher>,
    pub tokio: tokio::runtime::Handle,
    pub limits: RuntimeLimits,
}

/// A finished `ctx.fetch`, sent from its tokio task back to the worker.
pub struct FetchDone {
    pub id: u64,
    pub result: Result<FetchResponse, FetchFailure>,
}

/// Why a fetch failed, as the JS error code and message it becomes.
pub enum FetchFailure {
    /// The audit records of earlier reads could not be committed: nothing was sent.
    Audit(String),
    /// Refused or failed.
    Fetch(FetchError),
}

type Settlers = (Persistent<Function<'static>>, Persistent<Function<'static>>);

/// State of one invocation.
pub struct InvocationState {
    pub host: Arc<dyn Host>,
    pub services: Arc<Services>,
    /// Distinct (name, value) pairs read; the leak guard searches for these.
    pub reads: RefCell<Vec<(SecretName, Arc<SecretValue>)>>,
    /// Ticket of the last `secret.get` record.
    pub last_ticket: Cell<Option<Ticket>>,
    /// Whether any read returned a value: only then must egress wait for the audit log.
    pub value_read: Cell<bool>,
    pub gets: Cell<u32>,
    pub console: RefCell<Vec<(LogLevel, String)>>,
    console_bytes: Cell<usize>,
    /// Resolve and reject functions of fetches in flight, by id.
    pub pending: RefCell<HashMap<u64, (Settlers, tokio::task::AbortHandle)>>,
    next_fetch: Cell<u64>,
    pub done_tx: Sender<FetchDone>,
}

impl InvocationState {
    pub fn new(host: Arc<dyn Host>, services: Arc<Services>, done_tx: Sender<FetchDone>) -> Self {
        Self {
            host,
            services,
            reads: RefCell::default(),
            last_ticket: Cell::new(None),
            value_read: Cell::new(false),
            gets: Cell::new(0),
            console: RefCell::default(),
            console_bytes: Cell::new(0),
            pending: RefCell::default(),
            next_fetch: Cell::new(0),
            done_tx,
        }
    }

    /// Records a read (deduplicated) for the leak guard.
    pub fn remember(&self, name: &SecretName, value: &Arc<SecretValue>) {
        let mut reads = self.reads.borrow_mut();
        let known = reads
            .iter()
            .any(|(n, v)| n == name && (Arc::ptr_eq(v, value) || v.expose() == value.expose()));
        if !known {
            reads.push((name.clone(), value.clone()));
        }
    }

    /// Keeps a console line while the invocation's output budget lasts.
    pub fn log(&self, level: LogLevel, mut text: String) {
        let max = self.services.limits.max_console_bytes;
        let used = self.console_bytes.get();
        if used >= max {
            return;
        }
        if used + text.len() > max {
            let mut cut = max - used;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
            text.push_str(" [console output truncated: limit reached]");
        }
        self.console_bytes.set(used + text.len());
        self.console.borrow_mut().push((level, text));
    }

    pub fn next_fetch_id(&self) -> u64 {
        let id = self.next_fetch.get();
        self.next_fetch.set(id + 1);
        id
    }

    /// Cancels fetches still in flight and drops their JS functions (before the context goes).
    pub fn abandon_fetches(&self) {
        for (_, (_, abort)) in self.pending.borrow_mut().drain() {
            abort.abort();
        }
    }
}
