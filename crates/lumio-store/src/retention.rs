//! Audit retention's pacing, shared by both backends.

use std::time::Duration;

/// Records deleted per transaction: small enough that a writer waiting behind one batch
/// waits milliseconds, not the length of the whole purge.
pub(crate) const DELETE_BATCH: i64 = 2000;

/// The pause between two batches, in which writers get the table (SQLite's one writer,
/// PostgreSQL's locks on the rows' pages).
pub(crate) const BATCH_PAUSE: Duration = Duration::from_millis(5);
